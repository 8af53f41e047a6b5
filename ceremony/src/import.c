/* sigil-ceremony import: an existing private key becomes a threshold key.
 *
 *   propose import KEY --scheme S --threshold T (--key-file F | --public-key HEX)
 *   approve (x k)
 *   import STATEMENT --key-file F --approval FILE... [--wipe-input]
 *
 * The key is read into secure memory in THIS process only, checked to be
 * the approved one, split by trusted dealer (Shamir, Feldman commitments)
 * and each share encrypted to one node's envelope key, whose certificate is
 * checked against the node identity key recorded at init (the coordinator
 * relays and cannot read or replace shares). Each dealing is signed by an
 * officer's token. Secret, coefficients and shares are zeroized before the
 * dealings leave; --wipe-input overwrites and unlinks the key file after
 * a successful import (otherwise the operator is told to destroy it). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ceremony.h"
#include "sigil/coord.h"
#include "sigil/dealing.h"
#include "sigil/dkg.h"
#include "sigil/envelope.h"
#include "sigil/err.h"
#include "sigil/group.h"
#include "sigil/hsm.h"
#include "sigil/v1/admin.pb-c.h"

#define STMT_FORMAT "sigil-statement-v1"
#define IMPORT_PREPARE_METHOD "/sigil.v1.Admin/ImportPrepare"
#define IMPORT_KEY_METHOD "/sigil.v1.Admin/ImportKey"
#define OFFICER_KEY_LABEL "sigil-officer"
#define KEYFILE_MAX 256

static size_t scheme_pk_len(int scheme)
{
    return scheme == SIGIL_ENV_SCHEME_SECP256K1 || scheme == SIGIL_ENV_SCHEME_ECDSA ? 33 : 32;
}

/* ---- the private key ---- */

/* Read the key file (32 raw bytes, or 64 hex digits with optional
 * whitespace) into secret (secure memory); pk receives the public key in
 * KeyInfo form. Ed25519: the file holds the RFC 8032 32-byte seed, expanded
 * as RFC 8032 does (SHA-512, clamp, the scalar mod L), so signatures verify
 * under the original public key; secp256k1 schemes: the 32-byte big-endian
 * secret key. Every buffer that held key bytes is zeroized. */
static int read_key(const char *path, int scheme, sigil_scalar *secret, uint8_t *pk, size_t *pklen)
{
    const sigil_group *g = sigil_dealing_group((uint16_t)scheme);
    uint8_t *raw = sodium_malloc(KEYFILE_MAX + 64 + 32);
    if (!raw || !g) {
        sodium_free(raw);
        return fail(1, "import: out of secure memory or bad scheme");
    }
    uint8_t *h = raw + KEYFILE_MAX, *k32 = raw + KEYFILE_MAX + 64;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        sodium_free(raw);
        return fail(1, "import: cannot open the key file %s: %s", path, strerror(errno));
    }
    ssize_t n = read(fd, raw, KEYFILE_MAX);
    close(fd);
    int rc = 0;
    size_t kl = 0;
    if (n == 32) {
        memcpy(k32, raw, 32);
        kl = 32;
    } else if (n > 0 && n < KEYFILE_MAX) {
        /* hex, whitespace ignored, decoded without leaving copies */
        for (ssize_t i = 0; i < n && !rc; i++) {
            uint8_t ch = raw[i], v;
            if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
                continue;
            if (ch >= '0' && ch <= '9') v = (uint8_t)(ch - '0');
            else if (ch >= 'a' && ch <= 'f') v = (uint8_t)(ch - 'a' + 10);
            else if (ch >= 'A' && ch <= 'F') v = (uint8_t)(ch - 'A' + 10);
            else { rc = 1; break; }
            if (kl >= 64) { rc = 1; break; }
            if (kl % 2 == 0) k32[kl / 2] = (uint8_t)(v << 4);
            else k32[kl / 2] |= v;
            kl++;
        }
        if (!rc && kl != 64)
            rc = 1;
        kl = 32;
    } else {
        rc = 1;
    }
    if (rc) {
        sodium_free(raw);
        return fail(1, "import: %s must hold exactly 32 bytes, raw or as 64 hex digits (%s)",
                    path, scheme == SIGIL_ENV_SCHEME_ED25519 ? "the RFC 8032 Ed25519 seed"
                                                            : "the secp256k1 secret key, big-endian");
    }
    sigil_point P;
    if (scheme == SIGIL_ENV_SCHEME_ED25519) {
        crypto_hash_sha512(h, k32, 32);
        h[0] &= 248;
        h[31] &= 127;
        h[31] |= 64;
        rc = sigil_scalar_reduce(g, secret, h, 32);
        if (!rc) rc = sigil_point_base_mul(g, &P, secret);
        if (!rc) {
            sigil_point_serialize(g, pk, &P);
            *pklen = 32;
            /* the same public key as RFC 8032 / libsodium derive from the seed */
            uint8_t spk[32];
            uint8_t *ssk = h; /* 64 bytes of secure scratch */
            crypto_sign_seed_keypair(spk, ssk, k32);
            if (sodium_memcmp(spk, pk, 32) != 0)
                rc = SIGIL_E_MISMATCH;
        }
    } else {
        rc = sigil_scalar_parse(g, secret, k32);
        if (!rc && sigil_scalar_is_zero(secret))
            rc = SIGIL_E_ZERO;
        if (!rc) rc = sigil_point_base_mul(g, &P, secret);
        if (!rc && scheme == SIGIL_ENV_SCHEME_BIP340) {
            rc = sigil_point_x(g, pk, &P);
            *pklen = 32;
        } else if (!rc) {
            sigil_point_serialize(g, pk, &P);
            *pklen = 33;
        }
    }
    sodium_free(raw); /* zeroizes */
    if (rc) {
        sodium_memzero(secret, sizeof *secret);
        return fail(1, "import: %s is not a valid %s private key (%s)", path,
                    sigil_coord_scheme_name(scheme), sigil_strerror(rc));
    }
    return 0;
}

/* ---- statement parameters ---- */

int cer_import_params(const cluster *c, const stmt_file *s, const Sigil__V1__ApprovalStatement *st,
                      cer_import_params_t *out)
{
    cer_import_params_t p;
    uint8_t h[32];
    memset(&p, 0, sizeof p);
    (void)c;
    const char *sc = json_string_value(json_object_get(s->params, "scheme"));
    p.scheme = sc ? sigil_coord_scheme_parse(sc) : 0;
    p.t = (unsigned)json_integer_value(json_object_get(s->params, "threshold"));
    p.n = (unsigned)json_integer_value(json_object_get(s->params, "parties"));
    const char *pkh = json_string_value(json_object_get(s->params, "public_key"));
    if (!p.scheme || !p.t || !p.n || !pkh || unhex(pkh, p.pk, sizeof p.pk, &p.pklen) ||
        p.pklen != scheme_pk_len(p.scheme) ||
        sigil_dealing_params_hash(st->key_id, (uint16_t)p.scheme, p.t, p.n, p.pk, p.pklen, h) ||
        st->params_hash.len != 32 || sodium_memcmp(h, st->params_hash.data, 32))
        return -1;
    if (out)
        *out = p;
    return 0;
}

void cer_import_describe(FILE *o, const cluster *c, const stmt_file *s,
                         const Sigil__V1__ApprovalStatement *st)
{
    cer_import_params_t p;
    char pk[131];
    if (cer_import_params(c, s, st, &p))
        return;
    hex(pk, p.pk, p.pklen);
    fprintf(o, "  key         %s (IMPORT of an existing private key)\n", st->key_id);
    fprintf(o, "  scheme      %s\n  threshold   %u of %u nodes\n  public key  %s\n",
            sigil_coord_scheme_name(p.scheme), p.t, p.n, pk);
    fprintf(o, "  note        the key will be split inside the ceremony process; the input\n"
               "              file must be destroyed afterwards\n");
}

/* ---- propose import ---- */

static const char propose_import_help[] =
    "usage: sigil-ceremony propose import KEY --scheme S --threshold T\n"
    "           (--key-file FILE | --public-key HEX) --out FILE [--expires SECONDS]\n"
    "\n"
    "Writes a statement approving the import of an existing private key as\n"
    "KEY, split T-of-N over every node. It binds the scheme, T, N and the\n"
    "key's PUBLIC key: the import refuses a key file holding another key.\n"
    "--key-file reads the private key only to derive the public key (and\n"
    "zeroizes it); --public-key lets the proposer never touch the secret.\n"
    "schemes: frost-ed25519 (file: RFC 8032 32-byte seed), frost-secp256k1,\n"
    "frost-bip340, ecdsa (file: 32-byte secret key); raw bytes or 64 hex\n"
    "digits. An ecdsa key needs nodes numbered 1..n (DKLs23); the nodes run\n"
    "the pairwise OT setup after installing their shares.\n"
    "\n"
    "example:\n"
    "  sigil-ceremony propose import cold-ed --scheme frost-ed25519 --threshold 2 \\\n"
    "      --key-file seed.hex --out imp.stmt\n";

int cer_import_propose(cluster *c, int argc, char **argv)
{
    const char *out = NULL, *scheme = NULL, *kf = NULL, *pkhex = NULL, *key;
    unsigned t = 0;
    uint64_t life = 900;
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fputs(propose_import_help, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    key = argv[0];
    if (key[0] == '-' || sigil_rpc_key_id_check(key))
        return fail(2, "propose import: KEY first, 1..64 of [A-Za-z0-9._-] (see propose import --help)");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return fail(2, "propose import: %s needs a value", a);
        i++;
        if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--expires")) life = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--scheme")) scheme = v;
        else if (!strcmp(a, "--threshold")) t = (unsigned)atoi(v);
        else if (!strcmp(a, "--key-file")) kf = v;
        else if (!strcmp(a, "--public-key")) pkhex = v;
        else return fail(2, "propose import: bad option %s (see propose import --help)", a);
    }
    int sc = scheme ? sigil_coord_scheme_parse(scheme) : 0;
    if (!out)
        return fail(2, "propose import: --out FILE is required");
    if (life < 1 || life > 3600)
        return fail(2, "propose import: --expires between 1 and 3600 seconds");
    if (sc < 1 || sc > 4)
        return fail(2, "propose import: --scheme frost-ed25519|frost-secp256k1|frost-bip340|ecdsa");
    if (t < 2 || t > c->n)
        return fail(2, "propose import: --threshold between 2 and %u (the node count)", c->n);
    if (!kf == !pkhex)
        return fail(2, "propose import: give exactly one of --key-file and --public-key");
    uint8_t pk[65];
    size_t pkl = 0;
    if (sigil_mpc_init())
        return fail(1, "propose import: crypto library initialisation failed");
    if (kf) {
        sigil_scalar *sk = sodium_malloc(sizeof *sk);
        if (!sk)
            return fail(1, "propose import: out of secure memory");
        int rc = read_key(kf, sc, sk, pk, &pkl);
        sodium_free(sk);
        if (rc)
            return rc;
    } else if (unhex(pkhex, pk, sizeof pk, &pkl) || pkl != scheme_pk_len(sc)) {
        return fail(2, "propose import: --public-key must be %zu bytes in hex for %s",
                    scheme_pk_len(sc), sigil_coord_scheme_name(sc));
    }

    Sigil__V1__ApprovalStatement s = SIGIL__V1__APPROVAL_STATEMENT__INIT;
    uint8_t nonce[32], ph[32];
    randombytes_buf(nonce, sizeof nonce);
    s.action = "import";
    s.cluster_id = c->cluster_id;
    s.nonce = (ProtobufCBinaryData){32, nonce};
    s.expires_unix = (uint64_t)time(NULL) + life;
    s.key_id = (char *)key;
    sigil_dealing_params_hash(key, (uint16_t)sc, t, c->n, pk, pkl, ph);
    s.params_hash = (ProtobufCBinaryData){32, ph};
    sigil_buf b;
    sigil_buf_init(&b, SIGIL_BREAKER_STATEMENT_MAX, 0);
    if (sigil_rpc_pack(&s.base, &b))
        return fail(1, "propose import: statement too large");
    char shex[2 * SIGIL_BREAKER_STATEMENT_MAX + 1], nhex[65], pkx[131];
    hex(shex, b.data, b.size);
    hex(nhex, nonce, 32);
    hex(pkx, pk, pkl);
    sigil_buf_free(&b);
    json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:{s:s,s:i,s:i,s:s}}", "format",
                          STMT_FORMAT, "statement", shex, "action", "import", "cluster_id",
                          c->cluster_id, "key_id", key, "expires_unix", (json_int_t)s.expires_unix,
                          "halt_epoch", (json_int_t)0, "nonce", nhex, "params", "scheme",
                          sigil_coord_scheme_name(sc), "threshold", (int)t, "parties", (int)c->n,
                          "public_key", pkx);
    char *text = json_dumps(f, JSON_INDENT(2));
    json_decref(f);
    int rc = write_text(out, 0644, 1, text);
    free(text);
    if (rc == SIGIL_E_EXISTS)
        return fail(1, "propose import: %s exists; choose another --out", out);
    if (rc)
        return fail(1, "propose import: cannot write %s", out);
    if (g_json)
        emit_json(json_pack("{s:s,s:s,s:s,s:s,s:I}", "statement_file", out, "action", "import",
                            "public_key", pkx, "nonce", nhex, "expires_unix",
                            (json_int_t)s.expires_unix));
    else
        printf("wrote %s (import of %s, %s %u of %u, public key %s, expires in %" PRIu64
               " s). Next: each officer runs\n  sigil-ceremony approve %s --officer NAME --out "
               "NAME.approval\n",
               out, key, sigil_coord_scheme_name(sc), t, c->n, pkx, life, out);
    return 0;
}

/* ---- import ---- */

static const char import_help[] =
    "usage: sigil-ceremony import STATEMENT --key-file FILE --approval FILE...\n"
    "           [--officer NAME] [--wipe-input] [--yes]\n"
    "\n"
    "Imports an existing private key as an approved threshold key (propose\n"
    "import; approve x k). The key file is read into locked memory in this\n"
    "process only and must hold the approved key. It is split by trusted\n"
    "dealer (Shamir with Feldman commitments); each share is encrypted to one\n"
    "node's envelope key (certificate checked against the node identity key\n"
    "recorded at init) and the dealing signed in officer NAME's token (default:\n"
    "the first approval's officer, who also connects). The coordinator checks\n"
    "the approvals and relays; each node checks them again, opens its share,\n"
    "checks it against the commitments and seals it in its token; the key is\n"
    "registered only when every node confirms the approved public key.\n"
    "Secret, coefficients and shares are zeroized before anything is sent.\n"
    "--wipe-input overwrites the key file with zeros and removes it after a\n"
    "successful import; otherwise destroy the file yourself (shred, and any\n"
    "backup of it). Asks for confirmation unless --yes. --save-request writes\n"
    "the exact ImportKeyRequest bytes sent to the coordinator (public: the\n"
    "shares in it are encrypted to the nodes), e.g. for an auditor.\n"
    "\n"
    "example:\n"
    "  sigil-ceremony propose import cold-ed --scheme frost-ed25519 --threshold 2 \\\n"
    "      --key-file seed.hex --out imp.stmt\n"
    "  sigil-ceremony approve imp.stmt --officer carol --out c.apr\n"
    "  sigil-ceremony approve imp.stmt --officer dave --out d.apr\n"
    "  sigil-ceremony import imp.stmt --key-file seed.hex --approval c.apr --approval d.apr "
    "--wipe-input\n";

int cer_node_identities(cluster *c, uint8_t pk[MAX_NODES + 1][32], int have[MAX_NODES + 1])
{
    char path[CER_PATH_MAX + 32];
    json_error_t je;
    snprintf(path, sizeof path, "%s/coord/coord.json", c->dir);
    json_t *r = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!r)
        return fail(1, "%s: %s (node identity keys recorded at init)", path, je.text);
    json_t *nodes = json_object_get(r, "nodes");
    int bad = 0;
    memset(have, 0, (MAX_NODES + 1) * sizeof *have);
    for (size_t i = 0; !bad && i < json_array_size(nodes); i++) {
        json_t *o = json_array_get(nodes, i);
        size_t l = 0;
        json_int_t id = json_integer_value(json_object_get(o, "id"));
        if (id < 1 || id > MAX_NODES ||
            unhex(json_string_value(json_object_get(o, "identity_public_key")), pk[id], 32, &l) || l != 32)
            bad = 1;
        else
            have[id] = 1;
    }
    json_decref(r);
    return bad ? fail(1, "%s: node identity keys malformed", path) : 0;
}

/* Node identity keys as recorded at init (coord/coord.json, written by
 * init from each node token): the ceremony's own record, not the
 * coordinator's word. */
static int node_peers(cluster *c, sigil_env_peers **peers)
{
    char path[CER_PATH_MAX + 32];
    json_error_t je;
    snprintf(path, sizeof path, "%s/coord/coord.json", c->dir);
    json_t *r = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!r)
        return fail(1, "import: %s: %s (node identity keys recorded at init)", path, je.text);
    json_t *nodes = json_object_get(r, "nodes");
    int rc = sigil_env_peers_new(peers);
    for (size_t i = 0; !rc && i < json_array_size(nodes); i++) {
        json_t *o = json_array_get(nodes, i);
        uint8_t pk[32];
        size_t l = 0;
        json_int_t id = json_integer_value(json_object_get(o, "id"));
        if (id < 1 || id > 65535 ||
            unhex(json_string_value(json_object_get(o, "identity_public_key")), pk, 32, &l) || l != 32)
            rc = SIGIL_E_ENCODING;
        else
            rc = sigil_env_peers_add(*peers, (uint32_t)id, pk);
    }
    json_decref(r);
    if (rc) {
        sigil_env_peers_free(*peers);
        *peers = NULL;
        return fail(1, "import: %s: node identity keys malformed", path);
    }
    return 0;
}

int cer_officer_token(cluster *c, const char *officer, sigil_hsm **h)
{
    char conf[CER_PATH_MAX + 256], pin[CER_PATH_MAX + 256], label[96];
    if (strlen(officer) > 64)
        return fail(1, "officer name too long");
    snprintf(conf, sizeof conf, "%s/officers/%.64s/softhsm2.conf", c->dir, officer);
    snprintf(pin, sizeof pin, "%s/officers/%.64s/officer-%.64s.pin", c->dir, officer, officer);
    snprintf(label, sizeof label, "officer-%.64s", officer);
    setenv("SOFTHSM2_CONF", conf, 1);
    sigil_hsm_config hc = {0};
    hc.token_label = label;
    hc.pin_file = pin;
    hc.max_sessions = 1;
    int rc = sigil_hsm_open(h, &hc);
    if (rc)
        return fail(1, "cannot open officer %s's token (%s): %s", officer, label,
                    sigil_strerror(rc));
    return 0;
}

/* Overwrite the key file with zeros (same length), sync, unlink. */
static int wipe_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    uint8_t z[4096];
    memset(z, 0, sizeof z);
    off_t left = sb.st_size;
    int bad = 0;
    while (left > 0 && !bad) {
        size_t w = left > (off_t)sizeof z ? sizeof z : (size_t)left;
        ssize_t r = write(fd, z, w);
        if (r <= 0)
            bad = 1;
        else
            left -= r;
    }
    if (fsync(fd))
        bad = 1;
    close(fd);
    if (unlink(path))
        bad = 1;
    return bad ? -1 : 0;
}

static int write_bytes(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wbx");
    if (!f)
        return -1;
    int bad = fwrite(p, 1, n, f) != n;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

typedef struct {
    sigil_scalar *secret;  /* sodium_malloc: secret, then t-1 coefficients */
    sigil_keyshare shares[SIGIL_DEALING_MAX_PARTIES];
    uint32_t n;
} dealer;

static void dealer_wipe(dealer *d)
{
    if (d->secret)
        sodium_free(d->secret); /* zeroizes */
    d->secret = NULL;
    for (uint32_t i = 0; i < d->n; i++)
        sigil_keyshare_free(&d->shares[i]);
    d->n = 0;
}

int cer_cmd_import(cluster *c, int argc, char **argv)
{
    const char *stmt_path = NULL, *officer = NULL, *keyfile = NULL, *save = NULL;
    char *files[MAX_OFFICERS * 2];
    int nf = 0, skip = 0, wipe = 0, yes = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(import_help, stdout);
            return 0;
        } else if (!strcmp(a, "--skip-local-check")) /* tests: show the servers refuse too */
            skip = 1;
        else if (!strcmp(a, "--wipe-input"))
            wipe = 1;
        else if (!strcmp(a, "--yes"))
            yes = 1;
        else if (a[0] != '-' && !stmt_path)
            stmt_path = a;
        else if (i + 1 >= argc)
            return fail(2, "import: %s needs a value (see import --help)", a);
        else if (!strcmp(a, "--approval") && nf < MAX_OFFICERS * 2)
            files[nf++] = argv[++i];
        else if (!strcmp(a, "--officer"))
            officer = argv[++i];
        else if (!strcmp(a, "--key-file"))
            keyfile = argv[++i];
        else if (!strcmp(a, "--save-request"))
            save = argv[++i];
        else
            return fail(2, "import: bad option %s (see import --help)", a);
    }
    if (!stmt_path || !keyfile)
        return fail(2, "import: STATEMENT and --key-file FILE are required (see import --help)");
    if (!nf)
        return fail(1, "import refused: no approvals (give --approval FILE, %u needed)", c->k);
    if (sigil_mpc_init())
        return fail(1, "import: crypto library initialisation failed");

    stmt_file s;
    Sigil__V1__Approval ap[MAX_OFFICERS * 2], *app[MAX_OFFICERS * 2];
    char names[MAX_OFFICERS * 2][65];
    uint8_t sigs[MAX_OFFICERS * 2][64];
    memset(&s, 0, sizeof s);
    if (gather(c, stmt_path, files, nf, "import", 0, skip, &s, ap, app, names, sigs)) {
        json_decref(s.params);
        return 1;
    }
    Sigil__V1__ApprovalStatement *st = stmt_decode(&s);
    cer_import_params_t p;
    if (!st || strcmp(st->action, "import") || cer_import_params(c, &s, st, &p)) {
        if (st)
            sigil_rpc_msg_free(&st->base);
        json_decref(s.params);
        return fail(1, "import: %s is not an import statement with matching parameters "
                       "(altered?)", stmt_path);
    }
    json_decref(s.params);
    s.params = NULL;
    char key_id[SIGIL_ENV_KEY_ID_MAX + 1];
    snprintf(key_id, sizeof key_id, "%s", st->key_id);
    sigil_rpc_msg_free(&st->base);
    if (p.n != c->n)
        return fail(1, "import: the statement splits over %u nodes, this cluster has %u", p.n, c->n);
    if (!officer)
        officer = names[0];
    if (!cluster_officer(c, officer))
        return fail(1, "import: %s is not an officer of cluster %s", officer, c->cluster_id);

    /* the key: secure memory, must be the approved one */
    dealer d;
    memset(&d, 0, sizeof d);
    d.secret = sodium_malloc(SIGIL_DEALING_MAX_PARTIES * sizeof *d.secret);
    if (!d.secret)
        return fail(1, "import: out of secure memory");
    uint8_t pk[65];
    size_t pkl = 0;
    if (read_key(keyfile, p.scheme, &d.secret[0], pk, &pkl)) {
        dealer_wipe(&d);
        return 1;
    }
    if (pkl != p.pklen || sodium_memcmp(pk, p.pk, pkl)) {
        dealer_wipe(&d);
        return fail(1, "import refused: %s does not hold the approved key (its public key "
                       "differs from the statement's); nothing sent",
                    keyfile);
    }
    char pkx[131];
    hex(pkx, pk, pkl);
    FILE *o = g_json ? stderr : stdout;
    fprintf(o, "Importing into cluster %s:\n  key         %s\n  scheme      %s\n  threshold   "
               "%u of %u nodes\n  public key  %s\n  approvals   %d\n",
            c->cluster_id, key_id, sigil_coord_scheme_name(p.scheme), p.t, p.n, pkx, nf);
    if (!yes) {
        char line[64];
        fprintf(stderr, "Type 'import' to split and send the shares: ");
        if (!fgets(line, sizeof line, stdin) || strcmp(line, "import\n")) {
            dealer_wipe(&d);
            return fail(1, "import: not confirmed; nothing sent");
        }
    }

    /* the nodes' envelope keys, checked against the identity keys of init */
    char ident[96];
    conn k;
    sigil_env_peers *peers = NULL;
    snprintf(ident, sizeof ident, "officer/%s", officer);
    if (node_peers(c, &peers) || connect_as(c, ident, &k)) {
        sigil_env_peers_free(peers);
        dealer_wipe(&d);
        return 1;
    }
    int rc = 0;
    Sigil__V1__ImportPrepareRequest preq = SIGIL__V1__IMPORT_PREPARE_REQUEST__INIT;
    Sigil__V1__ImportPrepareResponse *prep = NULL;
    progress("asking the coordinator for the nodes' envelope certificates");
    rc = rpc(&k, "import prepare", IMPORT_PREPARE_METHOD, &preq.base,
             &sigil__v1__import_prepare_response__descriptor, (ProtobufCMessage **)&prep);
    uint32_t ids[SIGIL_DEALING_MAX_PARTIES];
    uint8_t box[SIGIL_DEALING_MAX_PARTIES][32];
    if (!rc && prep->n_nodes != p.n)
        rc = fail(1, "import: the coordinator lists %zu nodes, the statement %u", prep->n_nodes, p.n);
    for (size_t i = 0; !rc && i < prep->n_nodes; i++) {
        ids[i] = prep->nodes[i]->node_id;
        int crc = i && ids[i] <= ids[i - 1]
                      ? SIGIL_E_PARTICIPANT
                      : sigil_env_cert_box_pk(peers, ids[i], prep->nodes[i]->cert.data,
                                              prep->nodes[i]->cert.len, box[i]);
        if (crc)
            rc = fail(1, "import refused: node %u's envelope certificate is not signed by the "
                         "identity key recorded at init (%s); nothing sent",
                      ids[i], sigil_strerror(crc));
    }
    if (prep)
        sigil_rpc_msg_free(&prep->base);
    sigil_env_peers_free(peers);

    /* split: secret = d.secret[0], coefficients d.secret[1..t-1] */
    const sigil_group *g = sigil_dealing_group((uint16_t)p.scheme);
    static sigil_dealing dl[SIGIL_DEALING_MAX_PARTIES];
    sigil_scalar sid_ids[SIGIL_DEALING_MAX_PARTIES];
    uint8_t sid[32];
    randombytes_buf(sid, sizeof sid);
    memset(dl, 0, sizeof dl);
    for (unsigned j = 1; !rc && j < p.t; j++)
        if (sigil_scalar_random(g, &d.secret[j]))
            rc = fail(1, "import: no randomness");
    for (unsigned i = 0; !rc && i < p.n; i++)
        sigil_scalar_set_u64(g, &sid_ids[i], ids[i]);
    if (!rc && sigil_dkg_split(g, &d.secret[0], p.t, p.n, sid_ids, &d.secret[1], d.shares))
        rc = fail(1, "import: the split failed");
    if (!rc)
        d.n = p.n;
    for (unsigned i = 0; !rc && i < p.n; i++) {
        sigil_dealing *x = &dl[i];
        snprintf(x->officer, sizeof x->officer, "%s", officer);
        x->scheme = (uint16_t)p.scheme;
        snprintf(x->key_id, sizeof x->key_id, "%s", key_id);
        x->t = p.t;
        x->n = p.n;
        memcpy(x->parties, ids, p.n * sizeof *ids);
        memcpy(x->public_key, pk, pkl);
        x->public_key_len = pkl;
        for (unsigned j = 0; !rc && j < p.t; j++)
            if (sigil_point_base_mul(g, &x->commitments[j], &d.secret[j]))
                rc = fail(1, "import: commitment failed");
        uint8_t *share = sodium_malloc(32);
        if (!share)
            rc = fail(1, "import: out of secure memory");
        if (!rc) {
            sigil_scalar_serialize(g, share, d.shares[i].secret);
            /* TEST HOOK (tests/integration/ceremony_import.sh): deal node ID
             * a share that does not match the commitments, to show the node
             * refuses it and the import does not register. It can only make
             * an import fail. */
            const char *bad = getenv("SIGIL_TEST_CORRUPT_SHARE_FOR");
            if (bad && (uint32_t)strtoul(bad, NULL, 10) == ids[i])
                share[p.scheme == SIGIL_ENV_SCHEME_ED25519 ? 0 : 31] ^= 1;
            if (sigil_dealing_seal_share(x, sid, ids[i], share, box[i]))
                rc = fail(1, "import: encryption to node %u failed", ids[i]);
        }
        if (share)
            sodium_free(share);
    }
    /* nothing secret is needed any more: wipe before anything leaves */
    dealer_wipe(&d);

    /* sign each dealing inside the officer's token */
    sigil_buf payloads[SIGIL_DEALING_MAX_PARTIES];
    Sigil__V1__ImportDealing dealings[SIGIL_DEALING_MAX_PARTIES], *dp[SIGIL_DEALING_MAX_PARTIES];
    memset(payloads, 0, sizeof payloads);
    sigil_hsm *h = NULL;
    if (!rc && cer_officer_token(c, officer, &h))
        rc = 1;
    for (unsigned i = 0; !rc && i < p.n; i++) {
        sigil_buf m;
        uint8_t sig[64];
        int drc = sigil_buf_init(&payloads[i], SIGIL_DEALING_MAX, 0);
        if (!drc) drc = sigil_dealing_body(&dl[i], &payloads[i]);
        if (!drc) drc = sigil_buf_init(&m, SIGIL_DEALING_MAX + 128, 0);
        if (!drc) drc = sigil_dealing_sign_message(sid, payloads[i].data, payloads[i].size, &m);
        if (!drc) drc = sigil_hsm_sign_ed25519(h, OFFICER_KEY_LABEL, m.data, m.size, sig);
        if (!drc && crypto_sign_verify_detached(sig, m.data, m.size, cluster_officer(c, officer)->pk))
            drc = SIGIL_E_MISMATCH;
        sigil_buf_free(&m);
        if (!drc) drc = sigil_buf_put(&payloads[i], sig, 64);
        if (drc)
            rc = fail(1, "import: signing the dealing for node %u in officer %s's token failed: %s",
                      ids[i], officer, sigil_strerror(drc));
        sigil__v1__import_dealing__init(&dealings[i]);
        dealings[i].node_id = ids[i];
        dealings[i].payload = (ProtobufCBinaryData){payloads[i].size, payloads[i].data};
        dp[i] = &dealings[i];
    }
    if (h)
        sigil_hsm_close(h);

    ProtobufCMessage *m = NULL;
    if (!rc) {
        Sigil__V1__ImportKeyRequest req = SIGIL__V1__IMPORT_KEY_REQUEST__INIT;
        req.key_id = key_id;
        req.scheme = (Sigil__V1__Scheme)p.scheme;
        req.threshold = p.t;
        req.num_parties = p.n;
        req.public_key = (ProtobufCBinaryData){pkl, pk};
        req.statement = (ProtobufCBinaryData){s.len, s.bytes};
        req.approvals = app;
        req.n_approvals = (size_t)nf;
        req.session_id = (ProtobufCBinaryData){32, sid};
        req.dealings = dp;
        req.n_dealings = p.n;
        if (save) {
            sigil_buf rb;
            sigil_buf_init(&rb, 1u << 20, 0);
            if (sigil_rpc_pack(&req.base, &rb) || write_bytes(save, rb.data, rb.size))
                rc = fail(1, "import: cannot write %s", save);
            sigil_buf_free(&rb);
        }
        progress("sending %u encrypted dealings with %d approvals; every node checks and seals "
                 "its share...", p.n, nf);
        if (!rc)
            rc = rpc(&k, "import", IMPORT_KEY_METHOD, &req.base,
                     &sigil__v1__import_key_response__descriptor, &m);
    }
    for (unsigned i = 0; i < p.n; i++)
        sigil_buf_free(&payloads[i]);
    sigil_rpc_client_free(k.rpc);
    if (rc) {
        if (m)
            sigil_rpc_msg_free(m);
        return rc;
    }
    Sigil__V1__KeyInfo *ki = ((Sigil__V1__ImportKeyResponse *)m)->key;
    char rpk[131] = "";
    int same = ki && ki->public_key.len == pkl && !memcmp(ki->public_key.data, pk, pkl);
    if (ki && ki->public_key.len <= 65)
        hex(rpk, ki->public_key.data, ki->public_key.len);
    sigil_rpc_msg_free(m);
    if (!same)
        return fail(1, "import: the coordinator registered public key %s, not the imported %s",
                    rpk, pkx);
    int wiped = wipe ? wipe_file(keyfile) : 1;
    if (g_json)
        emit_json(json_pack("{s:s,s:s,s:s,s:i,s:i,s:b}", "key_id", key_id, "scheme",
                            sigil_coord_scheme_name(p.scheme), "public_key", pkx, "threshold",
                            (int)p.t, "parties", (int)p.n, "input_wiped", wipe && wiped == 0));
    else
        printf("key %s imported (%s, %u of %u): public key %s\n", key_id,
               sigil_coord_scheme_name(p.scheme), p.t, p.n, pkx);
    if (wipe && wiped)
        return fail(1, "import succeeded but %s could not be overwritten and removed: destroy "
                       "it now", keyfile);
    if (!wipe)
        fprintf(stderr, "sigil-ceremony: the key file %s still holds the private key: destroy it "
                        "now (shred -u %s) and every copy of it\n", keyfile, keyfile);
    return 0;
}
