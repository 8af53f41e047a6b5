#define _XOPEN_SOURCE 700
/* sigil-audit: the auditors' CLI. Verifies a whole log offline, writes and
 * checks RFC 6962 proofs, cross-checks node logs against the central log,
 * and shows entries. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sigil/audit.h"
#include "sigil/err.h"

/* Exit codes besides SIGIL_AUDIT_V_* (3..11, see `verify --help`). */
enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2, EX_CROSS = 12 };

static const char *prog = "sigil-audit";

static void die_usage(const char *cmd, const char *msg)
{
    fprintf(stderr, "%s %s: %s (try '%s %s --help')\n", prog, cmd, msg, prog, cmd);
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

/* --key: a file holding a verifier key, or the key itself. */
static int load_vkey(const char *arg, char name[SIGIL_AUDIT_NAME_MAX + 1], uint8_t pub[32])
{
    char buf[1024];
    FILE *f = fopen(arg, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
    } else {
        snprintf(buf, sizeof(buf), "%s", arg);
    }
    int r = sigil_audit_vkey_parse(buf, name, pub);
    if (r)
        fprintf(stderr, "%s: --key %s: not a verifier key (%s)\n", prog, arg, sigil_strerror(r));
    return r;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, p, n);
}

static void b64(const uint8_t *p, size_t n, char *out, size_t out_len)
{
    sodium_bin2base64(out, out_len, p, n, sodium_base64_VARIANT_ORIGINAL);
}

/* ------------------------------------------------------------------ keygen */

static int cmd_keygen(int argc, char **argv)
{
    const char *name = NULL, *out = NULL;
    static const struct option opts[] = {{"name", 1, 0, 'n'}, {"out", 1, 0, 'o'}, {"help", 0, 0, 'h'}, {0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'n')
            name = optarg;
        else if (c == 'o')
            out = optarg;
        else if (c == 'h') {
            printf("usage: %s keygen --name NAME --out PREFIX\n\n"
                   "Make a libsodium Ed25519 checkpoint key (for tests and development; in\n"
                   "production the log key lives in the coordinator's PKCS#11 token).\n"
                   "Writes PREFIX.key (private, mode 0600) and PREFIX.pub (verifier key).\n\n"
                   "example: %s keygen --name sigil.example/audit --out /etc/sigil/audit\n",
                   prog, prog);
            return EX_OK;
        } else
            return EX_USAGE;
    }
    if (!name || !out) {
        die_usage("keygen", "--name and --out are required");
        return EX_USAGE;
    }
    char sk[256], vk[256], path[4096];
    int r = sigil_audit_keygen(name, sk, sizeof(sk), vk, sizeof(vk));
    if (r) {
        fprintf(stderr, "%s keygen: %s\n", prog, sigil_strerror(r));
        return EX_USAGE;
    }
    snprintf(path, sizeof(path), "%s.key", out);
    umask(077);
    FILE *f = fopen(path, "wx");
    if (!f) {
        fprintf(stderr, "%s keygen: %s: %s\n", prog, path, strerror(errno));
        sodium_memzero(sk, sizeof(sk));
        return SIGIL_AUDIT_V_IO;
    }
    fprintf(f, "%s\n", sk);
    sodium_memzero(sk, sizeof(sk));
    if (fclose(f) != 0)
        return SIGIL_AUDIT_V_IO;
    snprintf(path, sizeof(path), "%s.pub", out);
    f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", vk) < 0 || fclose(f) != 0) {
        fprintf(stderr, "%s keygen: %s: %s\n", prog, path, strerror(errno));
        return SIGIL_AUDIT_V_IO;
    }
    printf("%s\n", vk);
    return EX_OK;
}

/* ------------------------------------------------------------------ vkey */

static int cmd_vkey(int argc, char **argv)
{
    const char *name = NULL, *pk = NULL;
    static const struct option opts[] = {{"name", 1, 0, 'n'}, {"pubkey", 1, 0, 'p'}, {"help", 0, 0, 'h'}, {0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'n')
            name = optarg;
        else if (c == 'p')
            pk = optarg;
        else if (c == 'h') {
            printf("usage: %s vkey --name NAME --pubkey HEX\n\n"
                   "Print the verifier key (NAME+KEYID+base64) for an Ed25519 checkpoint key\n"
                   "held in a PKCS#11 token, from its public key in hex.\n\n"
                   "example:\n  %s vkey --name sigil.example/audit --pubkey \"$(sigil-hsm pubkey --token coord \\\n"
                   "      --pin-file coord.pin --label sigil-audit)\" > audit.pub\n",
                   prog, prog);
            return EX_OK;
        } else
            return EX_USAGE;
    }
    uint8_t pub[32];
    size_t n;
    char out[512];
    if (!name || !pk || sodium_hex2bin(pub, 32, pk, strlen(pk), "\n ", &n, NULL) != 0 || n != 32) {
        die_usage("vkey", "--name and --pubkey (64 hex digits) are required");
        return EX_USAGE;
    }
    if (sigil_audit_vkey_format(name, pub, out, sizeof(out)) != SIGIL_OK) {
        die_usage("vkey", "invalid key name (no spaces or '+')");
        return EX_USAGE;
    }
    printf("%s\n", out);
    return EX_OK;
}

/* ------------------------------------------------------------------ pg-init */

static int cmd_pg_init(int argc, char **argv)
{
    const char *db = NULL, *role = NULL;
    static const struct option opts[] = {{"db", 1, 0, 'd'}, {"writer-role", 1, 0, 'w'}, {"help", 0, 0, 'h'}, {0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'w')
            role = optarg;
        else if (c == 'h') {
            printf("usage: %s pg-init --db CONNINFO [--writer-role ROLE]\n\n"
                   "Create or migrate the PostgreSQL schema (run as the schema owner), make the\n"
                   "tables append-only (triggers reject UPDATE, DELETE, TRUNCATE) and grant ROLE\n"
                   "INSERT and SELECT only. The writer must connect as ROLE, never as the owner.\n\n"
                   "example: %s pg-init --db 'host=/run/postgresql dbname=sigil' --writer-role sigil_writer\n",
                   prog, prog);
            return EX_OK;
        } else
            return EX_USAGE;
    }
    if (!db) {
        die_usage("pg-init", "--db is required");
        return EX_USAGE;
    }
    char err[1024];
    int r = sigil_audit_pg_migrate(db, role, err, sizeof(err));
    if (r) {
        fprintf(stderr, "%s pg-init: %s: %s\n", prog, sigil_strerror(r), err);
        return SIGIL_AUDIT_V_IO;
    }
    printf("schema ready%s%s\n", role ? "; writer role " : "", role ? role : "");
    return EX_OK;
}

/* ------------------------------------------------------------------ verify */

static int cmd_verify(int argc, char **argv)
{
    const char *logp = NULL, *key = NULL, *saved_files[64];
    size_t n_saved = 0;
    int allow = 0;
    static const struct option opts[] = {{"log", 1, 0, 'l'}, {"key", 1, 0, 'k'},
                                         {"allow-uncovered", 0, 0, 'u'}, {"checkpoint", 1, 0, 'c'},
                                         {"help", 0, 0, 'h'}, {0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c') {
            if (n_saved == 64) {
                die_usage("verify", "at most 64 --checkpoint files");
                return EX_USAGE;
            }
            saved_files[n_saved++] = optarg;
        } else if (c == 'l')
            logp = optarg;
        else if (c == 'k')
            key = optarg;
        else if (c == 'u')
            allow = 1;
        else if (c == 'h') {
            printf("usage: %s verify --log DIR|CONNINFO --key VKEY [--allow-uncovered]\n"
                   "                   [--checkpoint SAVED_NOTE ...]\n\n"
                   "Verify a whole log offline: every record's framing, every entry decodes,\n"
                   "sequence numbers are 0,1,2,... (strictly increasing, no gap), time never\n"
                   "goes back, every checkpoint is signed by the trusted key VKEY (a file or the\n"
                   "key string), the Merkle root at every checkpoint size matches, no two\n"
                   "checkpoints of one size disagree (fork), no checkpoint covers missing\n"
                   "entries, and every entry is covered by a checkpoint. --allow-uncovered is\n"
                   "for a log read while its writer runs: entries after the last checkpoint\n"
                   "and an incomplete last record are then accepted (and reported).\n"
                   "--checkpoint: a signed checkpoint saved earlier (by 'sigil-audit checkpoint',\n"
                   "a witness or a previous audit); the log must still agree with it, which\n"
                   "catches a log cut back together with its last stored checkpoints.\n\n"
                   "exit codes: 0 ok, 2 usage, 3 cannot read, 4 record framing/checksum,\n"
                   "5 entry does not decode, 6 sequence/time order, 7 checkpoint signature or\n"
                   "format, 8 root mismatch, 9 fork, 10 truncated, 11 uncovered entries.\n\n"
                   "examples:\n  %s verify --log /var/lib/sigil/audit --key audit.pub\n"
                   "  %s verify --log /var/lib/sigil/audit --key audit.pub --checkpoint last-audit.note\n"
                   "  %s verify --log 'host=db dbname=sigil user=auditor' --key audit.pub\n",
                   prog, prog, prog, prog);
            return EX_OK;
        } else
            return EX_USAGE;
    }
    if (!logp || !key) {
        die_usage("verify", "--log and --key are required");
        return EX_USAGE;
    }
    char name[SIGIL_AUDIT_NAME_MAX + 1], msg[1024];
    uint8_t pub[32];
    if (load_vkey(key, name, pub))
        return EX_USAGE;
    uint8_t *saved[64];
    size_t saved_len[64];
    for (size_t i = 0; i < n_saved; i++) {
        FILE *f = fopen(saved_files[i], "rb");
        saved[i] = malloc(SIGIL_AUDIT_NOTE_MAX + 1);
        saved_len[i] = f && saved[i] ? fread(saved[i], 1, SIGIL_AUDIT_NOTE_MAX + 1, f) : 0;
        if (!f || !saved[i] || ferror(f)) {
            fprintf(stderr, "%s verify: --checkpoint %s: %s\n", prog, saved_files[i], strerror(errno));
            if (f)
                fclose(f);
            for (size_t k = 0; k <= i; k++)
                free(saved[k]);
            return SIGIL_AUDIT_V_IO;
        }
        fclose(f);
    }
    sigil_audit_verify_result res;
    int rc = sigil_audit_verify_log_saved(logp, name, pub, allow, (const uint8_t *const *)saved,
                                          saved_len, n_saved, &res, msg, sizeof(msg));
    for (size_t i = 0; i < n_saved; i++)
        free(saved[i]);
    if (rc == SIGIL_AUDIT_V_OK) {
        char rb[64];
        b64(res.root, 32, rb, sizeof(rb));
        printf("%s: %s; root %s; last checkpoint size %" PRIu64 "\n", logp, msg, rb,
               res.last_checkpoint_size);
    } else {
        fprintf(stderr, "%s: FAILED: %s\n", logp, msg);
    }
    return rc;
}

/* ------------------------------------------------------------ checkpoint */

static int cmd_checkpoint(int argc, char **argv)
{
    const char *logp = NULL, *out = NULL;
    static const struct option opts[] = {{"log", 1, 0, 'l'}, {"out", 1, 0, 'o'}, {"help", 0, 0, 'h'}, {0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'l')
            logp = optarg;
        else if (c == 'o')
            out = optarg;
        else if (c == 'h') {
            printf("usage: %s checkpoint --log LOG [--out FILE]\n\n"
                   "Write the latest stored signed checkpoint (a C2SP signed note) verbatim.\n"
                   "Keep it: a later 'verify --checkpoint FILE' proves the log still extends it.\n\n"
                   "example: %s checkpoint --log /var/lib/sigil/audit --out audit-2026-11-23.note\n",
                   prog, prog);
            return EX_OK;
        } else
            return EX_USAGE;
    }
    if (!logp) {
        die_usage("checkpoint", "--log is required");
        return EX_USAGE;
    }
    sigil_audit_reader *rd;
    char err[1024];
    const uint8_t *p, *last = NULL;
    size_t n, last_n = 0;
    uint8_t keep[SIGIL_AUDIT_NOTE_MAX];
    int r;
    if (sigil_audit_reader_open(logp, &rd, err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return SIGIL_AUDIT_V_IO;
    }
    while ((r = sigil_audit_reader_next_checkpoint(rd, &p, &n, err, sizeof(err))) == 1) {
        memcpy(keep, p, n);
        last = keep;
        last_n = n;
    }
    sigil_audit_reader_close(rd);
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return SIGIL_AUDIT_V_FRAME;
    }
    if (!last) {
        fprintf(stderr, "%s: %s: no checkpoint stored\n", prog, logp);
        return SIGIL_AUDIT_V_UNCOVERED;
    }
    FILE *f = out ? fopen(out, "wb") : stdout;
    if (!f || fwrite(last, 1, last_n, f) != last_n || (out && fclose(f) != 0)) {
        fprintf(stderr, "%s: cannot write %s\n", prog, out ? out : "stdout");
        return SIGIL_AUDIT_V_IO;
    }
    return EX_OK;
}

/* Load every entry's leaf hash (after checking the framing). */
static int load_leaves(const char *logp, uint8_t (**leaves)[32], uint64_t *n)
{
    sigil_audit_reader *rd;
    char err[1024];
    const uint8_t *p;
    size_t len, cap = 0;
    uint64_t idx;
    int r;
    *leaves = NULL;
    *n = 0;
    if ((r = sigil_audit_reader_open(logp, &rd, err, sizeof(err)))) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return SIGIL_AUDIT_V_IO;
    }
    while ((r = sigil_audit_reader_next(rd, &p, &len, &idx, err, sizeof(err))) == 1) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            uint8_t(*t)[32] = realloc(*leaves, cap * 32);
            if (!t) {
                r = SIGIL_E_NOMEM;
                break;
            }
            *leaves = t;
        }
        sigil_audit_leaf_hash(p, len, (*leaves)[(*n)++]);
    }
    sigil_audit_reader_close(rd);
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", prog, r == SIGIL_E_NOMEM ? "out of memory" : err);
        free(*leaves);
        *leaves = NULL;
        return SIGIL_AUDIT_V_FRAME;
    }
    return EX_OK;
}

static json_t *proof_json(uint8_t proof[][32], size_t n)
{
    json_t *a = json_array();
    char b[64];
    for (size_t i = 0; i < n; i++) {
        b64(proof[i], 32, b, sizeof(b));
        json_array_append_new(a, json_string(b));
    }
    return a;
}

static int write_json(json_t *j, const char *out)
{
    int r = out ? json_dump_file(j, out, JSON_INDENT(2)) : json_dumpf(j, stdout, JSON_INDENT(2));
    if (!out)
        putchar('\n');
    json_decref(j);
    if (r) {
        fprintf(stderr, "%s: cannot write %s\n", prog, out ? out : "stdout");
        return SIGIL_AUDIT_V_IO;
    }
    return EX_OK;
}

/* ------------------------------------------------------------------ prove */

static int cmd_prove(int argc, char **argv)
{
    const char *kind = argc > 1 ? argv[1] : NULL, *logp = NULL, *out = NULL;
    const char *sidx = NULL, *ssize = NULL, *sold = NULL, *snew = NULL;
    static const struct option opts[] = {{"log", 1, 0, 'l'},  {"index", 1, 0, 'i'}, {"size", 1, 0, 's'},
                                         {"old", 1, 0, 'o'},  {"new", 1, 0, 'n'},   {"out", 1, 0, 'O'},
                                         {"help", 0, 0, 'h'}, {0}};
    int c;
    if (kind && (!strcmp(kind, "--help") || !strcmp(kind, "-h")))
        kind = NULL, argc = 0;
    if (!kind || (strcmp(kind, "inclusion") && strcmp(kind, "consistency"))) {
        FILE *f = argc ? stderr : stdout;
        fprintf(f, "usage: %s prove inclusion --log LOG --index I [--size N] [--out FILE]\n"
                   "       %s prove consistency --log LOG --old N [--new M] [--out FILE]\n\n"
                   "Write an RFC 6962 proof as JSON in the format of the test vectors\n"
                   "(base64 hashes, 0-based leafIdx). Sizes default to the whole log. Check the\n"
                   "root against a signed checkpoint (sigil-audit verify) before relying on it.\n\n"
                   "examples:\n  %s prove inclusion --log /var/lib/sigil/audit --index 41 --out p.json\n"
                   "  %s prove consistency --log /var/lib/sigil/audit --old 1000 --new 2048\n",
                prog, prog, prog, prog);
        return argc ? EX_USAGE : EX_OK;
    }
    argc--;
    argv++;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': logp = optarg; break;
        case 'i': sidx = optarg; break;
        case 's': ssize = optarg; break;
        case 'o': sold = optarg; break;
        case 'n': snew = optarg; break;
        case 'O': out = optarg; break;
        case 'h': return cmd_prove(1, (char *[]){"prove", "--help", NULL});
        default: return EX_USAGE;
        }
    }
    if (!logp) {
        die_usage("prove", "--log is required");
        return EX_USAGE;
    }
    uint8_t(*leaves)[32];
    uint64_t n, a, b;
    int rc = load_leaves(logp, &leaves, &n);
    if (rc)
        return rc;
    uint8_t proof[SIGIL_AUDIT_MAX_PROOF][32], r1[32], r2[32];
    size_t np;
    char s1[64], s2[64];
    json_t *j = json_object();
    if (!strcmp(kind, "inclusion")) {
        b = n;
        if (!sidx || parse_u64(sidx, &a) || (ssize && parse_u64(ssize, &b)) || b > n || a >= b) {
            fprintf(stderr, "%s prove inclusion: need --index I < --size N <= %" PRIu64 " (log size)\n",
                    prog, n);
            rc = EX_USAGE;
            goto out;
        }
        sigil_audit_prove_inclusion((const uint8_t(*)[32])leaves, b, a, proof, &np);
        sigil_audit_tree_root((const uint8_t(*)[32])leaves, b, r1);
        b64(r1, 32, s1, sizeof(s1));
        b64(leaves[a], 32, s2, sizeof(s2));
        json_object_set_new(j, "leafIdx", json_integer((json_int_t)a));
        json_object_set_new(j, "treeSize", json_integer((json_int_t)b));
        json_object_set_new(j, "root", json_string(s1));
        json_object_set_new(j, "leafHash", json_string(s2));
    } else {
        b = n;
        if (!sold || parse_u64(sold, &a) || (snew && parse_u64(snew, &b)) || b > n || a == 0 || a > b) {
            fprintf(stderr, "%s prove consistency: need 0 < --old N <= --new M <= %" PRIu64 " (log size)\n",
                    prog, n);
            rc = EX_USAGE;
            goto out;
        }
        sigil_audit_prove_consistency((const uint8_t(*)[32])leaves, a, b, proof, &np);
        sigil_audit_tree_root((const uint8_t(*)[32])leaves, a, r1);
        sigil_audit_tree_root((const uint8_t(*)[32])leaves, b, r2);
        b64(r1, 32, s1, sizeof(s1));
        b64(r2, 32, s2, sizeof(s2));
        json_object_set_new(j, "size1", json_integer((json_int_t)a));
        json_object_set_new(j, "size2", json_integer((json_int_t)b));
        json_object_set_new(j, "root1", json_string(s1));
        json_object_set_new(j, "root2", json_string(s2));
    }
    json_object_set_new(j, "proof", proof_json(proof, np));
    free(leaves);
    return write_json(j, out);
out:
    json_decref(j);
    free(leaves);
    return rc;
}

/* ------------------------------------------------------------ verify-proof */

/* A base64 hash from JSON; an absent/empty string gives 0 bytes. */
static int get_hash(json_t *j, const char *field, uint8_t *out, size_t max, size_t *n)
{
    json_t *v = json_object_get(j, field);
    const char *s, *end;
    if (!json_is_string(v)) {
        fprintf(stderr, "%s: field \"%s\" missing or not a string\n", prog, field);
        return -1;
    }
    s = json_string_value(v);
    size_t sl = strlen(s);
    *n = 0;
    if (sl == 0)
        return 0;
    if (sodium_base642bin(out, max, s, sl, NULL, n, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != s + sl) {
        fprintf(stderr, "%s: field \"%s\" is not base64 of at most %zu bytes\n", prog, field, max);
        return -1;
    }
    return 0;
}

/* jansson stores integers as int64; a file with a larger one (e.g. leafIdx
 * 2^64-1) is re-read with integers as doubles, which are accepted only when
 * integral and exact (<= 2^53), so no value is ever silently rounded. */
static int get_u64(json_t *j, const char *field, uint64_t *v)
{
    json_t *x = json_object_get(j, field);
    if (json_is_integer(x) && json_integer_value(x) >= 0) {
        *v = (uint64_t)json_integer_value(x);
        return 0;
    }
    if (json_is_real(x)) {
        double d = json_real_value(x);
        if (d >= 0 && d <= 9007199254740992.0 && d == (double)(uint64_t)d) {
            *v = (uint64_t)d;
            return 0;
        }
        fprintf(stderr, "%s: field \"%s\" is out of range (%.17g)\n", prog, field, d);
        return -1;
    }
    fprintf(stderr, "%s: field \"%s\" missing or not a non-negative integer\n", prog, field);
    return -1;
}

static int cmd_verify_proof(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "inclusion") && strcmp(argv[1], "consistency"))) {
        int help = argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
        fprintf(help ? stdout : stderr,
                "usage: %s verify-proof {inclusion|consistency} FILE\n\n"
                "Check an RFC 6962 proof in the JSON format of the test vectors:\n"
                "  inclusion:   {leafIdx, treeSize, root, leafHash, proof: [base64...]}\n"
                "  consistency: {size1, size2, root1, root2, proof: [base64...]}\n"
                "Exit 0 only when the proof verifies; 1 when it does not (the reason is\n"
                "printed); 2 on usage errors; 3 when FILE cannot be read or parsed.\n\n"
                "example: %s verify-proof inclusion p.json\n",
                prog, prog);
        return help ? EX_OK : EX_USAGE;
    }
    json_error_t je;
    json_t *j = json_load_file(argv[2], JSON_REJECT_DUPLICATES, &je);
    if (!j)
        j = json_load_file(argv[2], JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je);
    if (!j || !json_is_object(j)) {
        fprintf(stderr, "%s: %s: line %d: %s\n", prog, argv[2], je.line, j ? "not an object" : je.text);
        json_decref(j);
        return SIGIL_AUDIT_V_IO;
    }
    json_t *pa = json_object_get(j, "proof");
    size_t np = json_is_array(pa) ? json_array_size(pa) : 0;
    int rc = EX_FAIL, r;
    if (pa && !json_is_array(pa) && !json_is_null(pa)) {
        fprintf(stderr, "%s: %s: \"proof\" is not an array\n", prog, argv[2]);
        json_decref(j);
        return EX_FAIL;
    }
    if (np > SIGIL_AUDIT_MAX_PROOF) {
        fprintf(stderr, "%s: %s: proof has %zu hashes (at most %d)\n", prog, argv[2], np,
                SIGIL_AUDIT_MAX_PROOF);
        json_decref(j);
        return EX_FAIL;
    }
    uint8_t ph[SIGIL_AUDIT_MAX_PROOF][64];
    const uint8_t *pp[SIGIL_AUDIT_MAX_PROOF];
    size_t pl[SIGIL_AUDIT_MAX_PROOF];
    for (size_t i = 0; i < np; i++) {
        json_t *e = json_array_get(pa, i);
        const char *s = json_string_value(e), *end;
        pp[i] = ph[i];
        pl[i] = 0;
        if (!s || (*s && (sodium_base642bin(ph[i], sizeof(ph[i]), s, strlen(s), NULL, &pl[i], &end,
                                            sodium_base64_VARIANT_ORIGINAL) != 0 ||
                          end != s + strlen(s)))) {
            fprintf(stderr, "%s: %s: proof[%zu] is not a base64 hash\n", prog, argv[2], i);
            json_decref(j);
            return EX_FAIL;
        }
    }
    uint8_t a[64], b[64];
    size_t al, bl;
    uint64_t x, y;
    if (!strcmp(argv[1], "inclusion")) {
        if (get_u64(j, "leafIdx", &x) || get_u64(j, "treeSize", &y) ||
            get_hash(j, "leafHash", a, sizeof(a), &al) || get_hash(j, "root", b, sizeof(b), &bl)) {
            json_decref(j);
            return EX_FAIL;
        }
        r = sigil_audit_verify_inclusion(x, y, a, al, pp, pl, np, b, bl);
        if (r == SIGIL_OK)
            printf("inclusion proof OK: leaf %" PRIu64 " is in the tree of size %" PRIu64 "\n", x, y);
    } else {
        if (get_u64(j, "size1", &x) || get_u64(j, "size2", &y) ||
            get_hash(j, "root1", a, sizeof(a), &al) || get_hash(j, "root2", b, sizeof(b), &bl)) {
            json_decref(j);
            return EX_FAIL;
        }
        r = sigil_audit_verify_consistency(x, y, a, al, b, bl, pp, pl, np);
        if (r == SIGIL_OK)
            printf("consistency proof OK: tree of size %" PRIu64 " extends the tree of size %" PRIu64 "\n",
                   y, x);
    }
    if (r == SIGIL_OK)
        rc = EX_OK;
    else
        fprintf(stderr, "%s: %s: %s proof does not verify: %s\n", prog, argv[2], argv[1],
                r == SIGIL_E_INVALID    ? "sizes/index out of range"
                : r == SIGIL_E_ENCODING ? "a hash is not 32 bytes"
                : r == SIGIL_E_PROOF    ? "wrong number of proof hashes for these sizes"
                                        : "computed root does not match");
    json_decref(j);
    return rc;
}

/* ------------------------------------------------------------------ show */

static int parse_time(const char *s, uint64_t *ms)
{
    if (parse_u64(s, ms) == 0)
        return 0;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!e || *e)
        return -1;
    *ms = (uint64_t)timegm(&tm) * 1000;
    return 0;
}

static void fmt_time(uint64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t w = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + w, n - w, ".%03uZ", (unsigned)(ms % 1000));
}

static json_t *entry_json(const sigil_audit_entry *e)
{
    char h[2 * 128 + 1], t[40];
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
    json_object_set_new(o, "time_ms", json_integer((json_int_t)e->time_ms));
    fmt_time(e->time_ms, t, sizeof(t));
    json_object_set_new(o, "time", json_string(t));
    json_object_set_new(o, "type", json_string(sigil_audit_type_name(e->type)));
    if (e->party)
        json_object_set_new(o, "party", json_integer(e->party));
    json_object_set_new(o, "actor", json_stringn(e->actor, e->actor_len));
    hex(e->key_id, e->key_id_len, h);
    json_object_set_new(o, "key_id", json_string(h));
    json_object_set_new(o, "scheme", json_string(sigil_audit_scheme_name(e->scheme)));
    hex(e->digest, e->digest_len, h);
    json_object_set_new(o, "digest", json_string(h));
    if (e->outcome == SIGIL_AUDIT_OUTCOME_SIGNATURE) {
        hex(e->sig, e->sig_len, h);
        json_object_set_new(o, "signature", json_string(h));
    } else if (e->outcome == SIGIL_AUDIT_OUTCOME_ERROR) {
        json_object_set_new(o, "error", json_string(sigil_errname(e->error)));
        json_object_set_new(o, "error_message", json_stringn(e->errmsg, e->errmsg_len));
    }
    json_t *s = json_array();
    for (unsigned i = 0; i < e->n_signers; i++)
        json_array_append_new(s, json_integer(e->signers[i]));
    json_object_set_new(o, "signers", s);
    json_object_set_new(o, "request_id", json_stringn(e->request_id, e->request_id_len));
    return o;
}

static void print_entry(const sigil_audit_entry *e)
{
    char h[2 * 128 + 1], t[40];
    fmt_time(e->time_ms, t, sizeof(t));
    printf("#%" PRIu64 " %s %-8s actor=%.*s", e->seq, t, sigil_audit_type_name(e->type),
           (int)e->actor_len, e->actor);
    if (e->party)
        printf(" party=%u", e->party);
    hex(e->key_id, e->key_id_len, h);
    printf(" key=%s scheme=%s", e->key_id_len ? h : "-", sigil_audit_scheme_name(e->scheme));
    hex(e->digest, e->digest_len, h);
    printf(" digest=%s", e->digest_len ? h : "-");
    if (e->outcome == SIGIL_AUDIT_OUTCOME_SIGNATURE) {
        hex(e->sig, e->sig_len, h);
        printf(" sig=%s", h);
    } else if (e->outcome == SIGIL_AUDIT_OUTCOME_ERROR) {
        printf(" error=%s msg=\"%.*s\"", sigil_errname(e->error), (int)e->errmsg_len, e->errmsg);
    }
    printf(" signers=");
    for (unsigned i = 0; i < e->n_signers; i++)
        printf("%s%u", i ? "," : "", e->signers[i]);
    if (!e->n_signers)
        printf("-");
    printf(" request=%.*s\n", (int)e->request_id_len, e->request_id_len ? e->request_id : "-");
}

static int cmd_show(int argc, char **argv)
{
    const char *logp = NULL, *key = NULL, *type = NULL, *actor = NULL;
    uint64_t since = 0, until = UINT64_MAX;
    int js = 0, c;
    static const struct option opts[] = {{"log", 1, 0, 'l'},   {"key", 1, 0, 'k'},   {"since", 1, 0, 's'},
                                         {"until", 1, 0, 'u'}, {"type", 1, 0, 't'},  {"actor", 1, 0, 'a'},
                                         {"json", 0, 0, 'j'},  {"help", 0, 0, 'h'}, {0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': logp = optarg; break;
        case 'k': key = optarg; break;
        case 't': type = optarg; break;
        case 'a': actor = optarg; break;
        case 'j': js = 1; break;
        case 's':
        case 'u':
            if (parse_time(optarg, c == 's' ? &since : &until)) {
                die_usage("show", "times are Unix milliseconds or YYYY-MM-DDTHH:MM:SSZ");
                return EX_USAGE;
            }
            break;
        case 'h':
            printf("usage: %s show --log LOG [--key HEX] [--since T] [--until T] [--type TYPE]\n"
                   "                [--actor ACTOR] [--json]\n\n"
                   "Print entries matching every filter given. T is Unix milliseconds or\n"
                   "YYYY-MM-DDTHH:MM:SSZ (until is exclusive). TYPE: sign keygen refresh halt\n"
                   "resume ceremony config share. Does not verify: run 'verify' first.\n\n"
                   "examples:\n  %s show --log /var/lib/sigil/audit --type sign --key 0a1b2c\n"
                   "  %s show --log /var/lib/sigil/audit --since 2026-11-01T00:00:00Z --json\n",
                   prog, prog, prog);
            return EX_OK;
        default: return EX_USAGE;
        }
    }
    uint8_t want_type = 0, kid[SIGIL_AUDIT_KEYID_MAX];
    size_t kid_len = 0;
    if (!logp) {
        die_usage("show", "--log is required");
        return EX_USAGE;
    }
    if (type && !(want_type = sigil_audit_type_from_name(type))) {
        die_usage("show", "unknown --type");
        return EX_USAGE;
    }
    if (key && sodium_hex2bin(kid, sizeof(kid), key, strlen(key), NULL, &kid_len, NULL) != 0) {
        die_usage("show", "--key is a hex key id");
        return EX_USAGE;
    }
    sigil_audit_reader *rd;
    char err[1024];
    const uint8_t *p;
    size_t n;
    uint64_t idx;
    int r;
    if (sigil_audit_reader_open(logp, &rd, err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return SIGIL_AUDIT_V_IO;
    }
    json_t *arr = js ? json_array() : NULL;
    int rc = EX_OK;
    while ((r = sigil_audit_reader_next(rd, &p, &n, &idx, err, sizeof(err))) == 1) {
        sigil_audit_entry e;
        if ((r = sigil_audit_entry_decode(p, n, &e))) {
            fprintf(stderr, "%s: entry index %" PRIu64 ": does not decode: %s\n", prog, idx,
                    sigil_strerror(r));
            rc = SIGIL_AUDIT_V_ENTRY;
            break;
        }
        if ((want_type && e.type != want_type) || e.time_ms < since || e.time_ms >= until ||
            (key && (e.key_id_len != kid_len || memcmp(e.key_id, kid, kid_len))) ||
            (actor && (strlen(actor) != e.actor_len || memcmp(actor, e.actor, e.actor_len))))
            continue;
        if (js)
            json_array_append_new(arr, entry_json(&e));
        else
            print_entry(&e);
    }
    if (r < 0 && rc == EX_OK) {
        fprintf(stderr, "%s: %s\n", prog, err);
        rc = SIGIL_AUDIT_V_FRAME;
    }
    sigil_audit_reader_close(rd);
    if (js) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(arr);
    }
    return rc;
}

/* ------------------------------------------------------------ cross-check */

typedef struct {
    uint8_t k[32]; /* hash of (key id, digest) */
    uint64_t idx, seq;
    uint16_t signers[SIGIL_AUDIT_SIGNERS_MAX];
    uint8_t n_signers;
    uint64_t backed; /* bit i: signers[i] has a node entry */
} central_sig;

static void match_key(const sigil_audit_entry *e, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    uint8_t l = e->key_id_len;
    crypto_hash_sha256_update(&st, &l, 1);
    crypto_hash_sha256_update(&st, e->key_id, l);
    l = e->digest_len;
    crypto_hash_sha256_update(&st, &l, 1);
    crypto_hash_sha256_update(&st, e->digest, l);
    crypto_hash_sha256_final(&st, out);
}

static int cmp_central(const void *a, const void *b)
{
    const central_sig *x = a, *y = b;
    int c = memcmp(x->k, y->k, 32);
    return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

static int cmd_cross_check(int argc, char **argv)
{
    const char *central = NULL, *nodes[64];
    size_t nn = 0;
    uint64_t t = 0;
    int c;
    static const struct option opts[] = {{"central", 1, 0, 'c'}, {"node", 1, 0, 'n'},
                                         {"threshold", 1, 0, 't'}, {"help", 0, 0, 'h'}, {0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': central = optarg; break;
        case 'n':
            if (nn == 64) {
                die_usage("cross-check", "at most 64 --node logs");
                return EX_USAGE;
            }
            nodes[nn++] = optarg;
            break;
        case 't':
            if (parse_u64(optarg, &t) || t == 0 || t > SIGIL_AUDIT_SIGNERS_MAX) {
                die_usage("cross-check", "--threshold is 1..64");
                return EX_USAGE;
            }
            break;
        case 'h':
            printf("usage: %s cross-check --central LOG --node LOG [--node LOG ...] [--threshold T]\n\n"
                   "Check that every share entry in each node log has its own signature entry\n"
                   "in the central log (same key id and digest, the node in its signer set;\n"
                   "one share per party per signature), and that every signature in the\n"
                   "central log is backed by share\n"
                   "entries from at least T of its signers (default: all of them). Run\n"
                   "'verify' on each log first. Exit 0 ok, 12 mismatch, 3 unreadable.\n\n"
                   "example: %s cross-check --central central/ --node n1/ --node n2/ --node n3/ --threshold 2\n",
                   prog, prog);
            return EX_OK;
        default: return EX_USAGE;
        }
    }
    if (!central || nn == 0) {
        die_usage("cross-check", "--central and at least one --node are required");
        return EX_USAGE;
    }
    sigil_audit_reader *rd;
    char err[1024];
    const uint8_t *p;
    size_t n, ns = 0, cap = 0;
    uint64_t idx;
    int r, rc = EX_OK;
    central_sig *sigs = NULL;
    if (sigil_audit_reader_open(central, &rd, err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return SIGIL_AUDIT_V_IO;
    }
    while ((r = sigil_audit_reader_next(rd, &p, &n, &idx, err, sizeof(err))) == 1) {
        sigil_audit_entry e;
        if (sigil_audit_entry_decode(p, n, &e)) {
            snprintf(err, sizeof(err), "%s: entry index %" PRIu64 " does not decode", central, idx);
            r = -1;
            break;
        }
        if (e.type != SIGIL_AUDIT_SIGN || e.outcome != SIGIL_AUDIT_OUTCOME_SIGNATURE)
            continue;
        if (ns == cap) {
            cap = cap ? 2 * cap : 1024;
            central_sig *tmp = realloc(sigs, cap * sizeof(*sigs));
            if (!tmp) {
                snprintf(err, sizeof(err), "out of memory");
                r = -1;
                break;
            }
            sigs = tmp;
        }
        central_sig *s = &sigs[ns++];
        match_key(&e, s->k);
        s->idx = idx;
        s->seq = e.seq;
        s->n_signers = e.n_signers;
        memcpy(s->signers, e.signers, sizeof(s->signers));
        s->backed = 0;
    }
    sigil_audit_reader_close(rd);
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        free(sigs);
        return SIGIL_AUDIT_V_IO;
    }
    if (ns)
        qsort(sigs, ns, sizeof(*sigs), cmp_central);
    for (size_t k = 0; k < nn && rc == EX_OK; k++) {
        if (sigil_audit_reader_open(nodes[k], &rd, err, sizeof(err))) {
            fprintf(stderr, "%s: %s\n", prog, err);
            rc = SIGIL_AUDIT_V_IO;
            break;
        }
        while ((r = sigil_audit_reader_next(rd, &p, &n, &idx, err, sizeof(err))) == 1) {
            sigil_audit_entry e;
            if (sigil_audit_entry_decode(p, n, &e)) {
                fprintf(stderr, "%s: node log %s: entry index %" PRIu64 " does not decode\n", prog,
                        nodes[k], idx);
                rc = SIGIL_AUDIT_V_ENTRY;
                break;
            }
            if (e.type != SIGIL_AUDIT_SHARE)
                continue;
            central_sig key;
            match_key(&e, key.k);
            /* First central entry with this key. */
            size_t lo = 0, hi = ns;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (memcmp(sigs[mid].k, key.k, 32) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            int found = 0, in_set = 0;
            for (size_t i = lo; i < ns && !memcmp(sigs[i].k, key.k, 32) && !in_set; i++) {
                found = 1;
                /* Each central signature backs at most one share per party:
                 * the node logs record the node session, not the wallet's
                 * request id, so shares are matched by (key id, digest) as
                 * a multiset, party by party. */
                for (unsigned s = 0; s < sigs[i].n_signers && !in_set; s++)
                    if (sigs[i].signers[s] == e.party && !((sigs[i].backed >> s) & 1)) {
                        sigs[i].backed |= 1ull << s;
                        in_set = 1;
                    }
            }
            if (!in_set) {
                char kh[2 * SIGIL_AUDIT_KEYID_MAX + 1];
                hex(e.key_id, e.key_id_len, kh);
                fprintf(stderr,
                        "%s: node log %s: entry index %" PRIu64 " (seq %" PRIu64 ", party %u, key %s, request %.*s): %s\n",
                        prog, nodes[k], idx, e.seq, e.party, kh, (int)e.request_id_len, e.request_id,
                        found ? "no central signature entry for this key and digest has this party in its signer set without a share already"
                              : "share has no signature entry in the central log");
                rc = EX_CROSS;
                break;
            }
        }
        if (r < 0 && rc == EX_OK) {
            fprintf(stderr, "%s: node log %s: %s\n", prog, nodes[k], err);
            rc = SIGIL_AUDIT_V_FRAME;
        }
        sigil_audit_reader_close(rd);
    }
    for (size_t i = 0; i < ns && rc == EX_OK; i++) {
        uint64_t need = t ? t : sigs[i].n_signers, have = 0;
        for (unsigned s = 0; s < sigs[i].n_signers; s++)
            have += (sigs[i].backed >> s) & 1;
        if (have < need) {
            fprintf(stderr,
                    "%s: central log %s: entry index %" PRIu64 " (seq %" PRIu64 "): signature backed by %" PRIu64
                    " node share entries, need %" PRIu64 "; missing parties:",
                    prog, central, sigs[i].idx, sigs[i].seq, have, need);
            for (unsigned s = 0; s < sigs[i].n_signers; s++)
                if (!((sigs[i].backed >> s) & 1))
                    fprintf(stderr, " %u", sigs[i].signers[s]);
            fputc('\n', stderr);
            rc = EX_CROSS;
        }
    }
    if (rc == EX_OK)
        printf("cross-check ok: %zu signatures in %s, each backed by node share entries from %zu node logs\n",
               ns, central, nn);
    free(sigs);
    return rc;
}

/* ------------------------------------------------------------------ main */

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} cmds[] = {
    {"verify", cmd_verify, "verify a whole log: entries, order, tree, signed checkpoints"},
    {"checkpoint", cmd_checkpoint, "print the latest signed checkpoint (to keep for later audits)"},
    {"prove", cmd_prove, "write an inclusion or consistency proof as JSON"},
    {"verify-proof", cmd_verify_proof, "check an inclusion or consistency proof (JSON)"},
    {"cross-check", cmd_cross_check, "match node share logs against the central log"},
    {"show", cmd_show, "print entries, filtered by key, time, type, actor"},
    {"keygen", cmd_keygen, "make a libsodium checkpoint key pair (tests, development)"},
    {"vkey", cmd_vkey, "verifier key for a checkpoint key held in a PKCS#11 token"},
    {"pg-init", cmd_pg_init, "create/migrate the PostgreSQL schema and writer role"},
};

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return SIGIL_AUDIT_V_IO;
    if (argc >= 2)
        for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
            if (!strcmp(argv[1], cmds[i].name))
                return cmds[i].run(argc - 1, argv + 1);
    FILE *f = (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) ? stdout : stderr;
    fprintf(f, "usage: %s COMMAND [OPTIONS]\n\nAudit Sigil's append-only Merkle log offline.\n\ncommands:\n",
            prog);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        fprintf(f, "  %-14s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\nRun '%s COMMAND --help' for options and examples.\n"
               "examples:\n  %s verify --log /var/lib/sigil/audit --key audit.pub\n"
               "  %s prove inclusion --log /var/lib/sigil/audit --index 7 > p.json\n"
               "  %s verify-proof inclusion p.json\n",
            prog, prog, prog, prog);
    return f == stdout ? EX_OK : EX_USAGE;
}
