/* sigil-ceremony: the security officers' CLI.
 *
 * A cluster directory (made by `init`) holds the PKI, one SoftHSM token per
 * node and per officer, every component's configuration, and cluster.json
 * (cluster id, quorum policy k-of-m, officers' public keys and tokens).
 * Sensitive operations are approved by k of m officers: `propose` writes a
 * statement file (a serialized sigil.v1.ApprovalStatement plus the
 * parameters it hashes), `approve` shows it and signs it inside the
 * officer's token, and the operation commands send the statement and the
 * approval files to the coordinator, which verifies them with
 * sigil_breaker_verify (as do the nodes for resume). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "ceremony.h"
#include "sigil/audit.h"
#include "sigil/breaker.h"
#include "sigil/coord.h"
#include "sigil/err.h"
#include "sigil/hsm.h"
#include "sigil/rpc.h"
#include "sigil/v1/admin.pb-c.h"
#include "sigil/v1/common.pb-c.h"

#define KEYGEN_METHOD "/sigil.v1.Admin/Keygen"
#define OFFICER_KEY_LABEL "sigil-officer"
#define STMT_FORMAT "sigil-statement-v1"
#define APPROVAL_FORMAT "sigil-approval-v1"

int g_json;
static char g_self_dir[CER_PATH_MAX];

/* ---------------------------------------------------------------- output */

int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fail(int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_json) {
        json_t *o = json_pack("{s:{s:s}}", "error", "message", msg);
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    }
    fprintf(stderr, "sigil-ceremony: %s\n", msg);
    return code;
}

void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  .. ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

void emit_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(o);
}

void hex(char *out, const uint8_t *p, size_t n)
{
    sodium_bin2hex(out, 2 * n + 1, p, n);
}

int unhex(const char *s, uint8_t *out, size_t max, size_t *n)
{
    size_t len = s ? strlen(s) : 0, bin = 0;
    if (!s || len % 2 || len / 2 > max ||
        sodium_hex2bin(out, max, s, len, NULL, &bin, NULL) || bin != len / 2)
        return -1;
    *n = bin;
    return 0;
}

/* snprintf that refuses to truncate (paths, configuration text) */
static void pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= n) {
        fprintf(stderr, "sigil-ceremony: a path or text is too long (%.60s...); use a shorter "
                        "cluster directory\n", out);
        exit(1);
    }
}

void cer_identity_file(const char *identity, char *out, size_t n)
{
    snprintf(out, n, "%s", identity);
    for (char *p = out; *p; p++)
        if (*p == '/')
            *p = '-';
}

int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

/* --------------------------------------------------------------- helpers */

int write_text(const char *path, int mode, int excl, const char *text)
{
    char tmp[CER_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (excl && access(path, F_OK) == 0)
        return SIGIL_E_EXISTS;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    if (fd < 0)
        return SIGIL_E_IO;
    size_t len = strlen(text);
    int ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path)) {
        unlink(tmp);
        return SIGIL_E_IO;
    }
    return SIGIL_OK;
}

static int mkdirs(const char *path, int mode)
{
    char p[CER_PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, (mode_t)mode) && errno != EEXIST ? -1 : 0;
}

/* Run argv with SOFTHSM2_CONF=conf (if set); capture the last stdout line
 * in out. stderr goes to ours only on failure (through a file). */
static int run(const char *conf, char *const argv[], char *out, size_t outn)
{
    int pfd[2];
    if (pipe(pfd))
        return -1;
    FILE *errf = tmpfile();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (conf)
            setenv("SOFTHSM2_CONF", conf, 1);
        dup2(pfd[1], 1);
        if (errf)
            dup2(fileno(errf), 2);
        close(pfd[0]);
        close(pfd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    char buf[4096];
    size_t got = 0;
    ssize_t r;
    while ((r = read(pfd[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = 0;
    close(pfd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    while (got && (buf[got - 1] == '\n'))
        buf[--got] = 0;
    const char *last = strrchr(buf, '\n');
    if (out)
        pathf(out, outn, "%s", last ? last + 1 : buf);
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok && errf) {
        rewind(errf);
        while (fgets(buf, sizeof buf, errf))
            fprintf(stderr, "    %s: %s", argv[0], buf);
    }
    if (errf)
        fclose(errf);
    return ok ? 0 : -1;
}

/* An empty SoftHSM token: DIR/softhsm2.conf (token dir DIR/tokens), user
 * PIN in DIR/LABEL.pin and SO PIN in DIR/LABEL.so-pin (0600). */
static int token_init(const char *dir, const char *label)
{
    char conf[CER_PATH_MAX], path[CER_PATH_MAX], pin[25], sopin[25], text[CER_PATH_MAX * 2];
    uint8_t r[12];
    snprintf(path, sizeof path, "%s/tokens", dir);
    if (mkdirs(path, 0700))
        return -1;
    snprintf(conf, sizeof conf, "%s/softhsm2.conf", dir);
    snprintf(text, sizeof text,
             "# SoftHSMv2 configuration made by sigil-ceremony init\n"
             "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
             "slots.removable = false\nslots.mechanisms = ALL\nlibrary.reset_on_fork = false\n",
             dir);
    if (write_text(conf, 0600, 0, text))
        return -1;
    randombytes_buf(r, sizeof r);
    hex(pin, r, sizeof r);
    randombytes_buf(r, sizeof r);
    hex(sopin, r, sizeof r);
    snprintf(path, sizeof path, "%s/%s.pin", dir, label);
    snprintf(text, sizeof text, "%s\n", pin);
    if (write_text(path, 0600, 0, text))
        return -1;
    snprintf(path, sizeof path, "%s/%s.so-pin", dir, label);
    snprintf(text, sizeof text, "%s\n", sopin);
    if (write_text(path, 0600, 0, text))
        return -1;
    /* softhsm2-util takes the PINs on its command line (documented limit) */
    char *init[] = {"softhsm2-util", "--init-token", "--free", "--label", (char *)label,
                    "--pin", pin, "--so-pin", sopin, NULL};
    int bad = run(conf, init, NULL, 0);
    sodium_memzero(pin, sizeof pin);
    sodium_memzero(sopin, sizeof sopin);
    sodium_memzero(text, sizeof text);
    return bad;
}

/* A SoftHSM token (token_init), then the sealing key and an Ed25519 key
 * pair labelled keylabel, made by `sigil-hsm provision`. pk_hex gets the
 * public key. */
int make_token(const char *dir, const char *label, const char *keylabel, char pk_hex[65])
{
    char conf[CER_PATH_MAX], path[CER_PATH_MAX], tool[CER_PATH_MAX], out[256];
    if (token_init(dir, label))
        return -1;
    snprintf(conf, sizeof conf, "%s/softhsm2.conf", dir);
    pathf(tool, sizeof tool, "%s/sigil-hsm", g_self_dir);
    snprintf(path, sizeof path, "%s/%s.pin", dir, label);
    char *prov[] = {tool, "provision", "--token", (char *)label, "--pin-file", path,
                    "--label", (char *)keylabel, NULL};
    if (run(conf, prov, out, sizeof out) || strlen(out) != 64)
        return -1;
    memcpy(pk_hex, out, 65);
    return 0;
}

static int free_ports(int *ports, int n)
{
    int fds[MAX_NODES + 1];
    for (int i = 0; i < n; i++) {
        struct sockaddr_in a = {0};
        socklen_t l = sizeof a;
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) ||
            getsockname(fds[i], (struct sockaddr *)&a, &l))
            return -1;
        ports[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    return 0;
}

/* ------------------------------------------------------- cluster.json */

/* cluster: see ceremony.h */

static int cluster_load(const char *dir, cluster *c)
{
    char path[CER_PATH_MAX];
    json_error_t je;
    memset(c, 0, sizeof *c);
    if (!dir)
        return fail(2, "no cluster directory: give --cluster DIR (or set SIGIL_CLUSTER), "
                       "the directory `sigil-ceremony init` made");
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    snprintf(path, sizeof path, "%s/cluster.json", dir);
    json_t *r = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!r)
        return fail(1, "%s: %s (is this a directory made by `sigil-ceremony init`?)", path,
                    je.text);
    const char *id = json_string_value(json_object_get(r, "cluster_id"));
    const char *tg = json_string_value(json_object_get(r, "coordinator"));
    json_t *q = json_object_get(r, "quorum"), *of = json_object_get(r, "officers");
    c->k = (unsigned)json_integer_value(json_object_get(q, "k"));
    c->n = (unsigned)json_integer_value(json_object_get(r, "nodes"));
    c->t = (unsigned)json_integer_value(json_object_get(r, "threshold"));
    c->m = (unsigned)json_array_size(of);
    int bad = !id || !tg || strlen(id) > 64 || strlen(tg) >= sizeof c->target || c->m < 1 ||
              c->m > MAX_OFFICERS || c->k < 1 || c->k > c->m;
    if (!bad) {
        snprintf(c->cluster_id, sizeof c->cluster_id, "%s", id);
        snprintf(c->target, sizeof c->target, "%s", tg);
    }
    for (size_t i = 0; !bad && i < c->m; i++) {
        json_t *o = json_array_get(of, i);
        const char *name = json_string_value(json_object_get(o, "name"));
        size_t pl = 0;
        if (!name || strlen(name) > SIGIL_BREAKER_NAME_MAX ||
            unhex(json_string_value(json_object_get(o, "public_key")), c->officers[i].pk, 32,
                  &pl) || pl != 32)
            bad = 1;
        else
            snprintf(c->officers[i].name, sizeof c->officers[i].name, "%s", name);
    }
    json_decref(r);
    if (bad)
        return fail(1, "%s: malformed (cluster_id, coordinator, quorum.k, officers)", path);
    return 0;
}

const sigil_breaker_officer *cluster_officer(const cluster *c, const char *name)
{
    for (size_t i = 0; i < c->m; i++)
        if (!strcmp(c->officers[i].name, name))
            return &c->officers[i];
    return NULL;
}

/* ------------------------------------------------------------------ init */

static const char init_help[] =
    "usage: sigil-ceremony init --cluster DIR [--id CLUSTER_ID] [-n NODES] [-t T]\n"
    "           --officers NAME,NAME,... [-k K] [--wallet NAME=KEYPATTERN]... [--admin NAME]...\n"
    "           [--days DAYS] [--replace ITEM]...\n"
    "\n"
    "Creates a cluster from nothing in DIR: the officers' CA token (DIR/officers/ca,\n"
    "token sigil-ca: the CA's P-256 key is generated inside it and never leaves\n"
    "it; no CA key file exists) and the certificates it signs (SAN\n"
    "sigil://node/<i>, sigil://coordinator, sigil://wallet/<name>,\n"
    "sigil://officer/<name>, sigil://admin/<name>, valid DAYS, default 365), one\n"
    "SoftHSM token per node with its sealing and identity keys, one token per\n"
    "officer holding that officer's Ed25519 approval key, the quorum policy\n"
    "(K of the officers approve resume and keygen; default K = 2), node.conf for\n"
    "every node, coord.json for the coordinator, and cluster.json. Start the\n"
    "processes with `scripts/cluster start DIR`.\n"
    "\n"
    "On an existing cluster init refuses, unless told exactly what to replace:\n"
    "  --replace cert:IDENTITY   reissue one certificate and key with the same CA\n"
    "                            (e.g. cert:node/3, cert:wallet/alice); nothing else\n"
    "                            changes. Restart the component that uses it.\n"
    "\n"
    "--replace cert:IDENTITY signs with the CA token, so it needs the token and its\n"
    "PIN file (DIR/officers/ca/sigil-ca.pin) present. An officer may not be named\n"
    "\"ca\" (officers/ca/ holds the CA token).\n"
    "\n"
    "examples:\n"
    "  sigil-ceremony init --cluster /srv/sigil --id prod -n 3 -t 2 \\\n"
    "      --officers carol,dave,erin -k 2 --wallet alice='hot-*' --admin ops\n"
    "  sigil-ceremony init --cluster /srv/sigil --replace cert:node/3\n";

static int init_replace(cluster *c, char **items, int ni, unsigned days)
{
    char pki[CER_PATH_MAX];
    pathf(pki, sizeof pki, "%s/pki", c->dir);
    for (int i = 0; i < ni; i++)
        if (strncmp(items[i], "cert:", 5) || !items[i][5])
            return fail(2, "--replace %s: only cert:IDENTITY can be replaced on an existing "
                           "cluster (e.g. cert:node/3)",
                        items[i]);
    sigil_hsm *ca = NULL;
    int hrc = cer_pki_open_ca(c->dir, &ca);
    if (hrc)
        return fail(1, "--replace: cannot open the officers' CA token (%s/%s, token %s): %s; "
                       "nothing replaced",
                    c->dir, CER_CA_TOKEN_DIR, CER_CA_TOKEN, sigil_strerror(hrc));
    json_t *done = json_array();
    int bad = 0;
    for (int i = 0; i < ni && !bad; i++) {
        const char *id = items[i] + 5;
        char file[128], path[CER_PATH_MAX];
        cer_identity_file(id, file, sizeof file);
        pathf(path, sizeof path, "%s/%s.pem", pki, file);
        if (access(path, F_OK)) {
            bad = fail(1, "--replace %s: %s does not exist; nothing replaced after this point",
                       items[i], path);
            break;
        }
        if ((hrc = cer_pki_issue(ca, pki, id, days))) {
            bad = fail(1, "--replace %s: issuing the certificate with the CA token failed: %s",
                       items[i], sigil_strerror(hrc));
            break;
        }
        progress("reissued %s/%s.pem (signed in the officers' CA token)", pki, file);
        json_array_append_new(done, json_string(items[i]));
    }
    sigil_hsm_close(ca);
    if (bad) {
        json_decref(done);
        return bad;
    }
    if (g_json)
        emit_json(json_pack("{s:o}", "replaced", done));
    else {
        json_decref(done);
        printf("replaced %d item(s) in %s; restart the components that use them\n", ni, c->dir);
    }
    return 0;
}

static int cmd_init(const char *dir, int argc, char **argv)
{
    const char *id = "sigil", *officers = NULL;
    unsigned n = 3, t = 2, k = 2, days = 365;
    char *wallets[16], *admins[16], *replace[16];
    int nw = 0, na = 0, nr = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(init_help, stdout);
            return 0;
        }
        if (!v)
            return fail(2, "init: %s needs a value (see sigil-ceremony init --help)", a);
        i++;
        if (!strcmp(a, "--id"))
            id = v;
        else if (!strcmp(a, "-n"))
            n = (unsigned)atoi(v);
        else if (!strcmp(a, "-t"))
            t = (unsigned)atoi(v);
        else if (!strcmp(a, "-k"))
            k = (unsigned)atoi(v);
        else if (!strcmp(a, "--days"))
            days = (unsigned)atoi(v);
        else if (!strcmp(a, "--officers"))
            officers = v;
        else if (!strcmp(a, "--wallet") && nw < 16 && strchr(v, '='))
            wallets[nw++] = (char *)v;
        else if (!strcmp(a, "--admin") && na < 16 && valid_name(v))
            admins[na++] = (char *)v;
        else if (!strcmp(a, "--replace") && nr < 16)
            replace[nr++] = (char *)v;
        else
            return fail(2, "init: bad option %s %s (see sigil-ceremony init --help)", a, v);
    }
    if (!dir)
        return fail(2, "init: --cluster DIR is required");
    if (days < 1 || days > 3650)
        return fail(2, "init: --days between 1 and 3650");

    char path[CER_PATH_MAX];
    snprintf(path, sizeof path, "%s/cluster.json", dir);
    if (access(path, F_OK) == 0) {
        cluster c;
        if (!nr)
            return fail(1, "init: %s already holds a cluster (cluster.json exists); nothing "
                           "changed. To reissue one certificate use --replace cert:IDENTITY; "
                           "to start over, remove the directory yourself",
                        dir);
        if (cluster_load(dir, &c))
            return 1;
        return init_replace(&c, replace, nr, days);
    }
    if (nr)
        return fail(2, "init: --replace applies to an existing cluster; %s has none", dir);
    if (!officers)
        return fail(2, "init: --officers NAME,NAME,... is required (the officers who approve)");
    if (strlen(id) < 1 || strlen(id) > 64 || !valid_name(id))
        return fail(2, "init: --id: 1-32 of [a-z0-9_-]");
    if (n < 2 || n > MAX_NODES || t < 1 || t > n)
        return fail(2, "init: need 2 <= n <= %d and 1 <= t <= n (got n=%u t=%u)", MAX_NODES, n,
                    t);
    char offbuf[512], *onames[MAX_OFFICERS], *save = NULL;
    unsigned m = 0;
    snprintf(offbuf, sizeof offbuf, "%s", officers);
    for (char *s = strtok_r(offbuf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        if (m == MAX_OFFICERS || !valid_name(s))
            return fail(2, "init: officer names are 1-32 of [a-z0-9_-], at most %d",
                        MAX_OFFICERS);
        if (!strcmp(s, "ca"))
            return fail(2, "init: officer name \"ca\" is reserved (%s/ holds the CA token)",
                        CER_CA_TOKEN_DIR);
        for (unsigned j = 0; j < m; j++)
            if (!strcmp(onames[j], s))
                return fail(2, "init: officer %s named twice", s);
        onames[m++] = s;
    }
    if (k < 1 || k > m)
        return fail(2, "init: quorum -k %u with %u officers: need 1 <= k <= m", k, m);
    static char default_wallet[] = "alice=hot-*";
    if (!nw)
        wallets[nw++] = default_wallet;
    for (int i = 0; i < nw; i++) {
        char *eq = strchr(wallets[i], '=');
        *eq = 0;
        if (!valid_name(wallets[i]) || !eq[1])
            return fail(2, "init: --wallet NAME=KEYPATTERN (e.g. alice='hot-*')");
    }
    if (!na)
        admins[na++] = "ops";

    if (mkdirs(dir, 0700))
        return fail(1, "init: cannot create %s: %s", dir, strerror(errno));
    char adir[CER_PATH_MAX];
    char *rp = realpath(dir, NULL);
    if (!rp)
        return fail(1, "init: %s: %s", dir, strerror(errno));
    if (strlen(rp) > 400)
        return fail(2, "init: the cluster directory path is too long (at most 400 bytes)");
    pathf(adir, sizeof adir, "%s", rp);
    free(rp);
    dir = adir;
    /* claim the directory first, so a concurrent or interrupted init is
     * never mistaken for a finished one */
    char claim[CER_PATH_MAX];
    pathf(claim, sizeof claim, "%s/.init-in-progress", dir);
    int cfd = open(claim, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (cfd < 0)
        return fail(1, "init: %s exists: another init runs or one was interrupted; remove the "
                       "directory and start over",
                    claim);
    close(cfd);

    time_t t0 = time(NULL);
    char pki[CER_PATH_MAX];
    pathf(pki, sizeof pki, "%s/pki", dir);
    fprintf(stderr, "sigil-ceremony init: cluster %s, %u nodes (t=%u), %u officers (k=%u) in %s\n",
            id, n, t, m, k, dir);
    progress("[1/5] officers' CA token %s/%s: P-256 CA key generated inside it; certificates "
             "(valid %u days) signed by it",
             dir, CER_CA_TOKEN_DIR, days);
    char catok[CER_PATH_MAX];
    pathf(catok, sizeof catok, "%s/%s", dir, CER_CA_TOKEN_DIR);
    sigil_hsm *cah = NULL;
    if (mkdirs(pki, 0700) || mkdirs(catok, 0700) || token_init(catok, CER_CA_TOKEN))
        return fail(1, "init: making the CA token in %s failed (is softhsm2 installed? run "
                       "scripts/setup)",
                    catok);
    int hrc = cer_pki_open_ca(dir, &cah);
    if (hrc)
        return fail(1, "init: opening the CA token in %s failed: %s", catok, sigil_strerror(hrc));
    if ((hrc = cer_pki_ca(cah, pki, id, days))) {
        sigil_hsm_close(cah);
        return fail(1, "init: creating the CA in the token failed: %s", sigil_strerror(hrc));
    }
    char ident[128];
    int bad = cer_pki_issue(cah, pki, "coordinator", days);
    for (unsigned i = 1; !bad && i <= n; i++) {
        snprintf(ident, sizeof ident, "node/%u", i);
        bad = cer_pki_issue(cah, pki, ident, days);
    }
    for (unsigned i = 0; !bad && i < m; i++) {
        snprintf(ident, sizeof ident, "officer/%s", onames[i]);
        bad = cer_pki_issue(cah, pki, ident, days);
    }
    for (int i = 0; !bad && i < nw; i++) {
        snprintf(ident, sizeof ident, "wallet/%s", wallets[i]);
        bad = cer_pki_issue(cah, pki, ident, days);
    }
    for (int i = 0; !bad && i < na; i++) {
        snprintf(ident, sizeof ident, "admin/%s", admins[i]);
        bad = cer_pki_issue(cah, pki, ident, days);
    }
    sigil_hsm_close(cah);
    if (bad)
        return fail(1, "init: issuing certificates with the CA token failed: %s",
                    sigil_strerror(bad));

    char node_pk[MAX_NODES + 1][65], off_pk[MAX_OFFICERS][65], tdir[CER_PATH_MAX],
        label[64];
    for (unsigned i = 1; i <= n; i++) {
        progress("[2/5] SoftHSM token node%u: sealing key + identity key", i);
        pathf(tdir, sizeof tdir, "%s/hsm/node%u", dir, i);
        snprintf(label, sizeof label, "node%u", i);
        pathf(path, sizeof path, "%s/node%u/state", dir, i);
        if (mkdirs(path, 0700) || make_token(tdir, label, SIGIL_HSM_IDENTITY_LABEL, node_pk[i]))
            return fail(1, "init: provisioning node %u's token failed (is softhsm2 installed? "
                           "run scripts/setup)",
                        i);
    }
    char coord_pk[65];
    progress("[2/5] SoftHSM token coord: audit-log checkpoint key");
    pathf(tdir, sizeof tdir, "%s/hsm/coord", dir);
    if (make_token(tdir, "coord", "sigil-audit", coord_pk))
        return fail(1, "init: provisioning the coordinator's token failed");
    for (unsigned i = 0; i < m; i++) {
        progress("[3/5] officer %s's token: Ed25519 approval key", onames[i]);
        pathf(tdir, sizeof tdir, "%s/officers/%s", dir, onames[i]);
        snprintf(label, sizeof label, "officer-%s", onames[i]);
        if (make_token(tdir, label, OFFICER_KEY_LABEL, off_pk[i]))
            return fail(1, "init: provisioning officer %s's token failed", onames[i]);
    }

    progress("[4/5] configuration files");
    int ports[MAX_NODES + 1];
    if (free_ports(ports, (int)n + 1))
        return fail(1, "init: no free loopback ports");
    /* ports + bin: the layout scripts/cluster start|stop-node|... uses */
    char text[65536];
    size_t off = 0;
    for (unsigned i = 1; i <= n; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "node%u=%d\n", i, ports[i]);
    snprintf(text + off, sizeof text - off, "coord=%d\n", ports[0]);
    pathf(path, sizeof path, "%s/ports", dir);
    if (write_text(path, 0644, 0, text))
        return fail(1, "init: writing %s failed", path);
    pathf(path, sizeof path, "%s/bin", dir);
    snprintf(text, sizeof text, "BIN=%s\n", g_self_dir);
    if (write_text(path, 0644, 0, text))
        return fail(1, "init: writing %s failed", path);

    char peers[4096] = "", offl[4096] = "";
    size_t po = 0, oo = 0;
    for (unsigned i = 1; i <= n; i++)
        po += (size_t)snprintf(peers + po, sizeof peers - po, "node.%u = %s\n", i, node_pk[i]);
    for (unsigned i = 0; i < m; i++)
        oo += (size_t)snprintf(offl + oo, sizeof offl - oo, "officer.%s = %s\n", onames[i],
                               off_pk[i]);
    for (unsigned i = 1; i <= n; i++) {
        snprintf(text, sizeof text,
                 "# sigil-node %u (made by sigil-ceremony init)\n"
                 "node_id = %u\nlisten = 127.0.0.1:%d\n"
                 "tls_ca = %s/ca.pem\ntls_cert = %s/node-%u.pem\ntls_key = %s/node-%u.key\n"
                 "token_label = node%u\npin_file = %s/hsm/node%u/node%u.pin\n"
                 "state_dir = %s/node%u/state\ncluster_id = %s\nresume_k = %u\n%s%s",
                 i, i, ports[i], pki, pki, i, pki, i, i, dir, i, i, dir, i, id, k, peers, offl);
        pathf(path, sizeof path, "%s/node%u/node.conf", dir, i);
        if (write_text(path, 0600, 0, text))
            return fail(1, "init: writing %s failed", path);
    }
    json_t *nodes = json_array(), *authz = json_array(), *offs = json_array(),
           *coff = json_array();
    for (unsigned i = 1; i <= n; i++) {
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", ports[i]);
        json_array_append_new(nodes, json_pack("{s:i,s:s,s:s}", "id", (int)i, "address", addr,
                                               "identity_public_key", node_pk[i]));
    }
    for (int i = 0; i < nw; i++) {
        char who[96];
        snprintf(who, sizeof who, "sigil://wallet/%s", wallets[i]);
        json_array_append_new(authz, json_pack("{s:s,s:s,s:s}", "identity", who, "method",
                                               "/sigil.v1.Wallet/*", "key", wallets[i] +
                                               strlen(wallets[i]) + 1));
    }
    json_array_append_new(authz, json_pack("{s:s,s:s,s:s}", "identity", "sigil://wallet/*",
                                           "method", "/sigil.v1.Wallet/ListKeys", "key", "*"));
    json_array_append_new(authz, json_pack("{s:s,s:s,s:s}", "identity", "sigil://admin/*",
                                           "method", "/sigil.v1.Admin/*", "key", "*"));
    json_array_append_new(authz, json_pack("{s:s,s:s,s:s}", "identity", "sigil://officer/*",
                                           "method", "/sigil.v1.Admin/*", "key", "*"));
    for (unsigned i = 0; i < m; i++) {
        char tconf[CER_PATH_MAX], pin[CER_PATH_MAX], lab[64];
        pathf(tconf, sizeof tconf, "%s/officers/%s/softhsm2.conf", dir, onames[i]);
        pathf(pin, sizeof pin, "%s/officers/%s/officer-%s.pin", dir, onames[i], onames[i]);
        snprintf(lab, sizeof lab, "officer-%s", onames[i]);
        json_array_append_new(coff, json_pack("{s:s,s:s}", "name", onames[i], "public_key",
                                              off_pk[i]));
        json_array_append_new(offs, json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", onames[i],
                                              "public_key", off_pk[i], "softhsm2_conf", tconf,
                                              "token", lab, "pin_file", pin));
    }
    char listen[64], ca[CER_PATH_MAX], cert[CER_PATH_MAX], key[CER_PATH_MAX],
        state[CER_PATH_MAX];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", ports[0]);
    pathf(ca, sizeof ca, "%s/ca.pem", pki);
    pathf(cert, sizeof cert, "%s/coordinator.pem", pki);
    pathf(key, sizeof key, "%s/coordinator.key", pki);
    pathf(state, sizeof state, "%s/coord/state", dir);
    /* audit logs: the coordinator's (checkpoints signed by the sigil-audit key
     * in hsm/coord) and every node's (signed by its identity key); the
     * verifier keys auditors need go next to each component's config */
    char origin[SIGIL_AUDIT_NAME_MAX + 1], alog[CER_PATH_MAX], apin[CER_PATH_MAX];
    snprintf(origin, sizeof origin, "sigil-coordinator/%s", id);
    pathf(alog, sizeof alog, "%s/coord/audit", dir);
    pathf(apin, sizeof apin, "%s/hsm/coord/coord.pin", dir);
    for (unsigned i = 0; i <= n; i++) {
        char vname[SIGIL_AUDIT_NAME_MAX + 1], vkey[512];
        uint8_t pub[32];
        if (i)
            snprintf(vname, sizeof vname, "sigil-node/%u/%s", i, id);
        else
            snprintf(vname, sizeof vname, "%s", origin);
        if (i)
            pathf(path, sizeof path, "%s/node%u/audit.pub", dir, i);
        else
            pathf(path, sizeof path, "%s/coord/audit.pub", dir);
        if (mkdirs(state, 0700) || sodium_hex2bin(pub, 32, i ? node_pk[i] : coord_pk, 64, NULL, NULL, NULL) ||
            sigil_audit_vkey_format(vname, pub, vkey, sizeof vkey - 1) ||
            write_text(path, 0644, 0, strcat(vkey, "\n")))
            return fail(1, "init: writing the audit verifier key %s failed", path);
    }
    json_t *coord = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:s,s:s,s:i,s:o,s:o,s:o,s:i,s:b,s:{s:i,s:i},s:{s:i,s:i,s:i}}",
        "listen", listen, "tls", "ca", ca, "cert", cert, "key", key, "state_dir", state,
        "cluster_id", id, "threshold", (int)t, "nodes", nodes, "authz", authz, "officers", coff,
        "approvals_required", (int)k, "keygen_approvals", 1, "pool", "frost_target", 256,
        "ecdsa_target", 32, "timeouts_ms", "node_call", 2000, "sign", 3000, "keygen", 60000);
    json_object_set_new(coord, "audit",
                        json_pack("{s:s,s:s,s:s,s:s,s:s}", "dir", alog, "origin", origin, "token",
                                  "coord", "pin_file", apin, "key_label", "sigil-audit"));
    pathf(path, sizeof path, "%s/coord/state", dir);
    mkdirs(path, 0700);
    pathf(path, sizeof path, "%s/coord/coord.json", dir);
    if (json_dump_file(coord, path, JSON_INDENT(2)) || chmod(path, 0600))
        return fail(1, "init: writing %s failed", path);
    json_decref(coord);

    progress("[5/5] cluster.json (quorum %u of %u)", k, m);
    json_t *cj = json_pack("{s:s,s:s,s:i,s:i,s:{s:i,s:i},s:o,s:s,s:I,s:i}", "format",
                           "sigil-cluster-v1", "cluster_id", id, "nodes", (int)n, "threshold",
                           (int)t, "quorum", "k", (int)k, "m", (int)m, "officers", offs,
                           "coordinator", listen, "created_unix", (json_int_t)t0, "cert_days",
                           (int)days);
    /* the officers' CA token: the CA private key exists only inside it */
    char caconf[CER_PATH_MAX], capin[CER_PATH_MAX];
    pathf(caconf, sizeof caconf, "%s/softhsm2.conf", catok);
    pathf(capin, sizeof capin, "%s/%s.pin", catok, CER_CA_TOKEN);
    json_object_set_new(cj, "ca", json_pack("{s:s,s:s,s:s,s:s,s:s}", "certificate", ca,
                                            "softhsm2_conf", caconf, "token", CER_CA_TOKEN,
                                            "pin_file", capin, "key_label", CER_CA_KEY_LABEL));
    pathf(path, sizeof path, "%s/cluster.json", dir);
    if (json_dump_file(cj, path, JSON_INDENT(2)))
        return fail(1, "init: writing %s failed", path);
    json_decref(cj);
    unlink(claim);
    if (g_json)
        emit_json(json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:s,s:s,s:I}", "cluster", dir,
                            "cluster_id", id, "nodes", (int)n, "threshold", (int)t, "k", (int)k,
                            "m", (int)m, "coordinator", listen, "ca_token", catok, "seconds",
                            (json_int_t)(time(NULL) - t0)));
    else
        printf("cluster %s ready in %s (%u nodes, t=%u; %u-of-%u officer quorum).\n"
               "CA key: inside the officers' CA token in %s\n"
               "  (token %s, PIN file %s):\n"
               "  generated there, not extractable; no CA key file exists. The officers hold\n"
               "  this token and its PIN, offline; init --replace cert:IDENTITY needs it.\n"
               "next: scripts/cluster start %s, then sigil-ceremony propose keygen ...\n",
               id, dir, n, t, k, m, catok, CER_CA_TOKEN, capin, dir);
    return 0;
}

/* ------------------------------------------------- statements, approvals */

/* stmt: see ceremony.h */

/* keygen parameters -> KeygenRequest{key_id, scheme, threshold} packed ->
 * SHA-256 (what the coordinator recomputes) */
static int keygen_params_hash(const char *key_id, int scheme, unsigned t, uint8_t h[32])
{
    Sigil__V1__KeygenRequest p = SIGIL__V1__KEYGEN_REQUEST__INIT;
    sigil_buf b;
    p.key_id = (char *)key_id;
    p.scheme = (Sigil__V1__Scheme)scheme;
    p.threshold = t;
    sigil_buf_init(&b, 4096, 0);
    int rc = sigil_rpc_pack(&p.base, &b);
    if (rc == SIGIL_OK)
        crypto_hash_sha256(h, b.data, b.size);
    sigil_buf_free(&b);
    return rc;
}

int stmt_load(const char *path, stmt_file *s)
{
    json_error_t je;
    s->len = 0;
    s->params = NULL;
    json_t *r = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!r)
        return fail(1, "%s: %s", path, je.text);
    const char *fmt = json_string_value(json_object_get(r, "format"));
    const char *hx = json_string_value(json_object_get(r, "statement"));
    if (!fmt || (strcmp(fmt, STMT_FORMAT) && strcmp(fmt, APPROVAL_FORMAT)) ||
        unhex(hx, s->bytes, sizeof s->bytes, &s->len)) {
        json_decref(r);
        return fail(1, "%s: not a sigil statement or approval file", path);
    }
    json_t *p = json_object_get(r, "params");
    if (p)
        s->params = json_incref(p);
    json_decref(r);
    return 0;
}

/* decode and describe (from the signed bytes, not the file's other fields) */
Sigil__V1__ApprovalStatement *stmt_decode(const stmt_file *s)
{
    ProtobufCMessage *m = NULL;
    if (sigil_rpc_unpack(&sigil__v1__approval_statement__descriptor, s->bytes, s->len,
                         SIGIL_BREAKER_STATEMENT_MAX, &m))
        return NULL;
    return (Sigil__V1__ApprovalStatement *)m;
}

/* For keygen: check the parameters carried in the file against the signed
 * params_hash; fills key, scheme, t. */
static int keygen_params(const stmt_file *s, const Sigil__V1__ApprovalStatement *st, int *scheme,
                         unsigned *t)
{
    uint8_t h[32];
    const char *sc = json_string_value(json_object_get(s->params, "scheme"));
    *scheme = sc ? sigil_coord_scheme_parse(sc) : 0;
    *t = (unsigned)json_integer_value(json_object_get(s->params, "threshold"));
    if (!*scheme || !*t || keygen_params_hash(st->key_id, *scheme, *t, h) ||
        st->params_hash.len != 32 || sodium_memcmp(h, st->params_hash.data, 32))
        return -1;
    return 0;
}

static const char propose_help[] =
    "usage: sigil-ceremony propose OP [ARGS] --out FILE [--expires SECONDS]\n"
    "\n"
    "Writes a statement file: the canonical description of one operation (a\n"
    "serialized sigil.v1.ApprovalStatement: action, cluster id, key, SHA-256 of\n"
    "the parameters, a fresh 32-byte nonce, an expiry; default 900 s, at most\n"
    "3600) for officers to approve. OP is one of:\n"
    "  resume [--epoch E]     end halt epoch E (default 0: whichever halt is current)\n"
    "  keygen KEY --scheme S --threshold T [-n N]\n"
    "                         distributed key generation on every node (N, if\n"
    "                         given, must equal the cluster's node count)\n"    "  refresh KEY            proactive share refresh (same public key, new shares)\n"
    "  retire KEY             destroy every share of KEY (the public key stays)\n"
    "schemes: frost-ed25519, frost-secp256k1, frost-bip340, ecdsa\n"
    "\n"
    "examples:\n"
    "  sigil-ceremony propose keygen hot-ed --scheme frost-ed25519 --threshold 2 --out kg.stmt\n"
    "  sigil-ceremony propose resume --out resume.stmt --expires 600\n"
    "  sigil-ceremony propose refresh hot-ed --out rf.stmt\n"
    "  sigil-ceremony propose retire old-key --out rt.stmt\n";

static int cmd_propose(cluster *c, int argc, char **argv)
{
    const char *out = NULL, *key = "", *scheme = NULL;
    unsigned t = 0, nn = 0;
    uint64_t epoch = 0, life = 900;
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fputs(propose_help, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    const char *op = argv[0];
    int i = 1;
    if (!strcmp(op, "import"))
        return cer_import_propose(c, argc - 1, argv + 1); /* import.c */
    if (!strcmp(op, "backup") || !strcmp(op, "restore"))
        return cer_backup_propose(c, op, argc - 1, argv + 1); /* backup.c */
    if (!strcmp(op, "keygen")) {
        if (argc < 2 || argv[1][0] == '-')
            return fail(2, "propose keygen: KEY first (see propose --help)");
        key = argv[1];
        i = 2;
    } else if (!strcmp(op, "refresh") || !strcmp(op, "retire")) {
        if (argc < 2 || argv[1][0] == '-')
            return fail(2, "propose %s: KEY first (see propose --help)", op);
        key = argv[1];
        i = 2;
    } else if (strcmp(op, "resume"))
        return fail(2, "propose: unknown operation %s (resume, keygen, refresh, retire; see "
                       "propose --help)",
                    op);
    for (; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return fail(2, "propose: %s needs a value", a);
        i++;
        if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--expires"))
            life = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--epoch") && !strcmp(op, "resume"))
            epoch = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--scheme") && !strcmp(op, "keygen"))
            scheme = v;
        else if (!strcmp(a, "--threshold") && !strcmp(op, "keygen"))
            t = (unsigned)atoi(v);
        else if (!strcmp(a, "-n") && !strcmp(op, "keygen"))
            nn = (unsigned)atoi(v);
        else
            return fail(2, "propose %s: bad option %s (see propose --help)", op, a);
    }
    if (!out)
        return fail(2, "propose: --out FILE is required");
    if (life < 1 || life > 3600)
        return fail(2, "propose: --expires between 1 and 3600 seconds");

    Sigil__V1__ApprovalStatement s = SIGIL__V1__APPROVAL_STATEMENT__INIT;
    uint8_t nonce[32], ph[32];
    int sc = 0;
    json_t *params = NULL;
    randombytes_buf(nonce, sizeof nonce);
    s.action = (char *)op;
    s.cluster_id = c->cluster_id;
    s.nonce = (ProtobufCBinaryData){32, nonce};
    s.expires_unix = (uint64_t)time(NULL) + life;
    s.halt_epoch = epoch;
    if (!strcmp(op, "keygen")) {
        if (!scheme || !(sc = sigil_coord_scheme_parse(scheme)))
            return fail(2, "propose keygen: --scheme frost-ed25519|frost-secp256k1|frost-bip340|"
                           "ecdsa");
        if (t < 1 || t > c->n)
            return fail(2, "propose keygen: --threshold between 1 and %u (the node count)",
                        c->n);
        if (nn && nn != c->n)
            return fail(2, "propose keygen: -n %u, but this cluster has %u nodes and key "
                           "generation runs on all of them",
                        nn, c->n);
        if (strlen(key) > 64)
            return fail(2, "propose keygen: key id at most 64 characters");
        keygen_params_hash(key, sc, t, ph);
        s.key_id = (char *)key;
        s.params_hash = (ProtobufCBinaryData){32, ph};
        params = json_pack("{s:s,s:i,s:i}", "scheme", sigil_coord_scheme_name(sc), "threshold",
                           (int)t, "parties", (int)c->n);
    }
    if ((!strcmp(op, "refresh") || !strcmp(op, "retire"))) {
        if (strlen(key) > 64 || cer_lc_params_hash(op, key, ph))
            return fail(2, "propose %s: key id at most 64 characters of [A-Za-z0-9._-]", op);
        s.key_id = (char *)key;
        s.params_hash = (ProtobufCBinaryData){32, ph};
        params = json_pack("{s:s}", "key_id", key);
    }
    sigil_buf b;
    sigil_buf_init(&b, SIGIL_BREAKER_STATEMENT_MAX, 0);
    if (sigil_rpc_pack(&s.base, &b))
        return fail(1, "propose: statement too large");
    char shex[2 * SIGIL_BREAKER_STATEMENT_MAX + 1], nhex[65];
    hex(shex, b.data, b.size);
    hex(nhex, nonce, 32);
    sigil_buf_free(&b);
    json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "format", STMT_FORMAT, "statement",
                          shex, "action", op, "cluster_id", c->cluster_id, "key_id", key,
                          "expires_unix", (json_int_t)s.expires_unix, "halt_epoch",
                          (json_int_t)epoch, "nonce", nhex);
    if (params)
        json_object_set_new(f, "params", params);
    char *text = json_dumps(f, JSON_INDENT(2));
    json_decref(f);
    int rc = write_text(out, 0644, 1, text);
    free(text);
    if (rc == SIGIL_E_EXISTS)
        return fail(1, "propose: %s exists; choose another --out (a statement is never "
                       "overwritten)",
                    out);
    if (rc)
        return fail(1, "propose: cannot write %s", out);
    if (g_json)
        emit_json(json_pack("{s:s,s:s,s:s,s:I}", "statement_file", out, "action", op, "nonce",
                            nhex, "expires_unix", (json_int_t)s.expires_unix));
    else
        printf("wrote %s (%s, nonce %.16s..., expires in %" PRIu64
               " s). Next: each officer runs\n  sigil-ceremony approve %s --officer NAME "
               "--out NAME.approval\n",
               out, op, nhex, life, out);
    return 0;
}

static const char approve_help[] =
    "usage: sigil-ceremony approve STATEMENT --officer NAME [--out FILE] [--yes]\n"
    "           [--token-conf SOFTHSM2_CONF --pin-file FILE]\n"
    "\n"
    "Shows exactly what STATEMENT approves (decoded from the signed bytes), asks\n"
    "for confirmation (type the action name; --yes skips it for automation), and\n"
    "signs \"sigil.v1.approval\\0\" || statement with the Ed25519 key inside\n"
    "officer NAME's own token. Writes the approval file (default NAME.approval);\n"
    "approval files travel to whoever runs the operation. The token location\n"
    "defaults to the one recorded in cluster.json at init.\n"
    "\n"
    "example:\n"
    "  sigil-ceremony approve kg.stmt --officer carol --out carol.approval\n";

static int cmd_approve(cluster *c, int argc, char **argv)
{
    const char *stmt_path = NULL, *officer = NULL, *out = NULL, *tconf = NULL, *pin = NULL;
    int yes = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(approve_help, stdout);
            return 0;
        } else if (!strcmp(a, "--yes"))
            yes = 1;
        else if (a[0] != '-' && !stmt_path)
            stmt_path = a;
        else if (!v)
            return fail(2, "approve: %s needs a value (see approve --help)", a);
        else if (!strcmp(a, "--officer"))
            officer = argv[++i];
        else if (!strcmp(a, "--out"))
            out = argv[++i];
        else if (!strcmp(a, "--token-conf"))
            tconf = argv[++i];
        else if (!strcmp(a, "--pin-file"))
            pin = argv[++i];
        else
            return fail(2, "approve: bad option %s (see approve --help)", a);
    }
    if (!stmt_path || !officer)
        return fail(2, "approve: STATEMENT and --officer NAME are required");
    const sigil_breaker_officer *of = cluster_officer(c, officer);
    if (!of)
        return fail(1, "approve: %s is not an officer of cluster %s (cluster.json)", officer,
                    c->cluster_id);
    stmt_file s;
    if (stmt_load(stmt_path, &s))
        return 1;
    Sigil__V1__ApprovalStatement *st = stmt_decode(&s);
    if (!st || st->nonce.len != 32) {
        json_decref(s.params);
        return fail(1, "approve: %s: the statement does not decode; do not approve it",
                    stmt_path);
    }
    uint64_t now = (uint64_t)time(NULL);
    int rc = 1;
    int scheme = 0;
    unsigned t = 0;
    if (strcmp(st->cluster_id, c->cluster_id)) {
        fail(1, "approve: the statement is for cluster \"%s\", not this cluster \"%s\"; refused",
             st->cluster_id, c->cluster_id);
        goto out;
    }
    if (st->expires_unix <= now) {
        fail(1, "approve: the statement expired %" PRIu64 " s ago; ask for a new one (propose)",
             now - st->expires_unix);
        goto out;
    }
    if (!strcmp(st->action, "keygen") && keygen_params(&s, st, &scheme, &t)) {
        fail(1, "approve: the file's keygen parameters do not match the signed parameter hash; "
                "refused (the file was altered)");
        goto out;
    }
    if (((!strcmp(st->action, "import") && cer_import_params(c, &s, st, NULL)) ||
         ((!strcmp(st->action, "backup") || !strcmp(st->action, "restore")) &&
          cer_backup_params_ok(c, &s, st)))) {
        fail(1, "approve: the file's %s parameters do not match the signed parameter hash; "
                "refused (the file was altered)", st->action);
        goto out;
    }
    if ((!strcmp(st->action, "refresh") || !strcmp(st->action, "retire")) &&
        cer_lc_params_check(st)) {
        fail(1, "approve: the %s statement's parameter hash does not match its key; refused",
             st->action);
        goto out;
    }
    if (strcmp(st->action, "keygen") && strcmp(st->action, "resume") && strcmp(st->action, "import") &&
        strcmp(st->action, "backup") && strcmp(st->action, "restore") &&
        strcmp(st->action, "refresh") && strcmp(st->action, "retire")) {
        fail(1, "approve: unknown action \"%s\"; refused", st->action);
        goto out;
    }
    char nhex[65];
    hex(nhex, st->nonce.data, 32);
    FILE *o = g_json ? stderr : stdout;
    fprintf(o, "You are approving, as officer %s of cluster %s:\n", officer, c->cluster_id);
    fprintf(o, "  action      %s\n", st->action);
    if (!strcmp(st->action, "keygen"))
        fprintf(o, "  key         %s\n  scheme      %s\n  threshold   %u of %u nodes\n",
                st->key_id, sigil_coord_scheme_name(scheme), t, c->n);
    if (!strcmp(st->action, "import"))
        cer_import_describe(o, c, &s, st); /* import.c */
    if (!strcmp(st->action, "backup") || !strcmp(st->action, "restore"))
        cer_backup_describe(o, c, &s, st); /* backup.c */
    if (!strcmp(st->action, "refresh"))
        fprintf(o, "  key         %s\n  effect      every node re-randomizes its share; the public "
                   "key stays; old shares stop working\n",
                st->key_id);
    if (!strcmp(st->action, "retire"))
        fprintf(o, "  key         %s\n  effect      EVERY SHARE IS DESTROYED: the key never signs "
                   "again (its public key stays for verification)\n",
                st->key_id);
    if (!strcmp(st->action, "resume"))
        fprintf(o, "  halt epoch  %" PRIu64 "%s\n", st->halt_epoch,
                st->halt_epoch ? "" : " (whichever halt is current)");
    fprintf(o, "  expires     in %" PRIu64 " s (unix %" PRIu64 ")\n  nonce       %s\n",
            st->expires_unix - now, st->expires_unix, nhex);
    fprintf(o, "  quorum      %u of %u officers must approve\n", c->k, c->m);
    if (!yes) {
        char line[64];
        fprintf(stderr, "Type '%s' to approve: ", st->action);
        if (!fgets(line, sizeof line, stdin) || strncmp(line, st->action, strlen(st->action)) ||
            (line[strlen(st->action)] != '\n' && line[strlen(st->action)] != 0)) {
            fail(1, "approve: not confirmed; nothing signed");
            goto out;
        }
    }
    /* sign inside the officer's token */
    char dconf[CER_PATH_MAX], dpin[CER_PATH_MAX], tlabel[64];
    pathf(dconf, sizeof dconf, "%s/officers/%s/softhsm2.conf", c->dir, officer);
    pathf(dpin, sizeof dpin, "%s/officers/%s/officer-%s.pin", c->dir, officer, officer);
    snprintf(tlabel, sizeof tlabel, "officer-%s", officer);
    setenv("SOFTHSM2_CONF", tconf ? tconf : dconf, 1);
    sigil_hsm_config hc = {0};
    hc.token_label = tlabel;
    hc.pin_file = pin ? pin : dpin;
    hc.max_sessions = 1;
    sigil_hsm *h = NULL;
    sigil_buf msg;
    uint8_t sig[64];
    int hrc = sigil_hsm_open(&h, &hc);
    if (hrc) {
        fail(1, "approve: cannot open officer %s's token (%s): %s; check --token-conf and "
                "--pin-file",
             officer, tlabel, sigil_strerror(hrc));
        goto out;
    }
    sigil_buf_init(&msg, 2 * SIGIL_BREAKER_STATEMENT_MAX, 0);
    hrc = sigil_breaker_approval_message(s.bytes, s.len, &msg);
    if (hrc == SIGIL_OK)
        hrc = sigil_hsm_sign_ed25519(h, OFFICER_KEY_LABEL, msg.data, msg.size, sig);
    if (hrc == SIGIL_OK && crypto_sign_verify_detached(sig, msg.data, msg.size, of->pk))
        hrc = SIGIL_E_MISMATCH;
    sigil_buf_free(&msg);
    sigil_hsm_close(h);
    if (hrc) {
        fail(1, "approve: signing failed: %s%s", sigil_strerror(hrc),
             hrc == SIGIL_E_MISMATCH ? " (this token's key is not the one cluster.json records "
                                       "for this officer)"
                                     : "");
        goto out;
    }
    char defout[128], sighex[129], shex[2 * SIGIL_BREAKER_STATEMENT_MAX + 1];
    snprintf(defout, sizeof defout, "%s.approval", officer);
    if (!out)
        out = defout;
    hex(sighex, sig, 64);
    hex(shex, s.bytes, s.len);
    json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s}", "format", APPROVAL_FORMAT, "officer", officer,
                          "action", st->action, "statement", shex, "signature", sighex);
    if (s.params)
        json_object_set(f, "params", s.params);
    char *text = json_dumps(f, JSON_INDENT(2));
    json_decref(f);
    int wrc = write_text(out, 0644, 1, text);
    free(text);
    if (wrc) {
        fail(1, "approve: cannot write %s%s", out,
             wrc == SIGIL_E_EXISTS ? " (exists; choose another --out)" : "");
        goto out;
    }
    if (g_json)
        emit_json(json_pack("{s:s,s:s,s:s}", "approval_file", out, "officer", officer, "action",
                            st->action));
    else
        printf("approved: wrote %s\n", out);
    rc = 0;
out:
    sigil_rpc_msg_free(&st->base);
    json_decref(s.params);
    return rc;
}

/* ------------------------------------------------- talking to the cluster */

/* conn: see ceremony.h */

int connect_as(cluster *c, const char *identity, conn *k)
{
    char ca[CER_PATH_MAX], cert[CER_PATH_MAX], key[CER_PATH_MAX], file[128];
    cer_identity_file(identity, file, sizeof file);
    pathf(ca, sizeof ca, "%s/pki/ca.pem", c->dir);
    pathf(cert, sizeof cert, "%s/pki/%s.pem", c->dir, file);
    pathf(key, sizeof key, "%s/pki/%s.key", c->dir, file);
    if (access(cert, R_OK) || access(key, R_OK))
        return fail(1, "no certificate for %s in %s/pki (init issues officer/NAME and "
                       "admin/NAME)",
                    identity, c->dir);
    sigil_rpc_client_config cc = {0};
    cc.target = c->target;
    cc.tls = (sigil_rpc_tls){ca, cert, key};
    cc.expect_identity = "sigil://coordinator";
    k->timeout = 120000;
    int rc = sigil_rpc_client_new(&cc, &k->rpc);
    if (rc)
        return fail(1, "cannot set up the mTLS client: %s", sigil_strerror(rc));
    return 0;
}

int rpc(conn *k, const char *what, const char *method, const ProtobufCMessage *req,
               const ProtobufCMessageDescriptor *d, ProtobufCMessage **resp)
{
    sigil_rpc_status st;
    memset(&st, 0, sizeof st);
    int rc = sigil_rpc_call_msg(k->rpc, method, req, d, resp, k->timeout, &st);
    if (rc)
        return fail(1, "%s failed: %s%s%s%s", what,
                    st.code ? sigil_rpc_status_name(st.code) : sigil_strerror(rc),
                    st.detail[0] ? ": " : "", st.detail,
                    st.code == 14 || rc == SIGIL_E_UNAVAILABLE
                        ? " (is the coordinator running? scripts/cluster start DIR)"
                        : "");
    return 0;
}

static const char *verify_why(int rc)
{
    switch (rc) {
    case SIGIL_E_THRESHOLD: return "too few approvals";
    case SIGIL_E_PERMISSION: return "an approval is by someone who is not an officer of this cluster (foreign)";
    case SIGIL_E_PARTICIPANT: return "two approvals by the same officer (duplicate)";
    case SIGIL_E_SIGNATURE: return "an approval signature does not verify (foreign or altered)";
    case SIGIL_E_ENCODING: return "the statement does not decode";
    case SIGIL_E_MISMATCH: return "the statement is for another action, cluster or halt epoch (foreign)";
    case SIGIL_E_EXPIRED: return "the statement has expired";
    default: return sigil_strerror(rc);
    }
}

/* Load STATEMENT + approval files; every approval must carry the same
 * statement bytes. Then check locally with the same verifier the servers
 * use (unless skip_local: the servers check anyway). */
int gather(cluster *c, const char *stmt_path, char **files, int nf, const char *action,
                  uint64_t epoch, int skip_local, stmt_file *s, Sigil__V1__Approval *ap,
                  Sigil__V1__Approval **app, char names[][65], uint8_t sigs[][64])
{
    if (stmt_load(stmt_path, s))
        return 1;
    for (int i = 0; i < nf; i++) {
        json_error_t je;
        stmt_file a;
        size_t sl = 0;
        if (stmt_load(files[i], &a))
            return 1;
        json_decref(a.params);
        json_t *r = json_load_file(files[i], 0, &je);
        const char *who = json_string_value(json_object_get(r, "officer"));
        int bad = !who || strlen(who) > 64 ||
                  unhex(json_string_value(json_object_get(r, "signature")), sigs[i], 64, &sl);
        if (!bad)
            snprintf(names[i], 65, "%s", who);
        json_decref(r);
        if (bad)
            return fail(1, "%s: not an approval file (officer, signature)", files[i]);
        if (a.len != s->len || memcmp(a.bytes, s->bytes, a.len))
            return fail(1, "%s approves a different statement than %s; refused (collect "
                           "approvals of this statement)",
                        files[i], stmt_path);
        sigil__v1__approval__init(&ap[i]);
        ap[i].officer = names[i];
        ap[i].signature = (ProtobufCBinaryData){sl, sigs[i]};
        app[i] = &ap[i];
    }
    if (skip_local)
        return 0;
    sigil_breaker_approval ba[MAX_OFFICERS * 2];
    for (int i = 0; i < nf; i++)
        ba[i] = (sigil_breaker_approval){names[i], sigs[i], ap[i].signature.len};
    sigil_breaker_policy pol = {c->officers, c->m, c->k, c->cluster_id, 3600};
    int rc = sigil_breaker_verify(&pol, s->bytes, s->len, ba, (size_t)nf, action,
                                  (uint64_t)time(NULL), epoch, NULL);
    if (rc)
        return fail(1, "%s refused before sending: %s (needs %u approvals by distinct officers "
                       "of cluster %s over this %s statement; collect them with `sigil-ceremony "
                       "approve`)",
                    action, verify_why(rc), c->k, c->cluster_id, action);
    return 0;
}

static const char halt_help[] =
    "usage: sigil-ceremony halt --officer NAME [--reason TEXT]\n"
    "\n"
    "Trips the circuit breaker through the coordinator (which propagates it to\n"
    "every node): all signing stops, persisted across restarts. One officer\n"
    "suffices (authenticated by the officer's certificate). Resuming needs\n"
    "k-of-m approvals (propose resume / approve / resume).\n"
    "\n"
    "example:\n"
    "  sigil-ceremony halt --officer carol --reason 'suspicious withdrawals'\n";

static int cmd_halt(cluster *c, int argc, char **argv)
{
    const char *officer = NULL, *reason = "halted by sigil-ceremony";
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(halt_help, stdout);
            return 0;
        }
        if (i + 1 >= argc)
            return fail(2, "halt: %s needs a value (see halt --help)", argv[i]);
        if (!strcmp(argv[i], "--officer"))
            officer = argv[++i];
        else if (!strcmp(argv[i], "--reason"))
            reason = argv[++i];
        else
            return fail(2, "halt: bad option %s (see halt --help)", argv[i]);
    }
    if (!officer || !cluster_officer(c, officer))
        return fail(2, "halt: --officer NAME (one of this cluster's officers) is required");
    char ident[96];
    conn k;
    snprintf(ident, sizeof ident, "officer/%s", officer);
    if (connect_as(c, ident, &k))
        return 1;
    Sigil__V1__HaltRequest req = SIGIL__V1__HALT_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    req.reason = (char *)reason;
    int rc = rpc(&k, "halt", SIGIL_RPC_ADMIN_HALT, &req.base, &sigil__v1__halt_response__descriptor,
                 &m);
    if (!rc) {
        Sigil__V1__HaltResponse *r = (Sigil__V1__HaltResponse *)m;
        size_t ok = 0;
        for (size_t i = 0; i < r->n_peers; i++)
            ok += r->peers[i]->ok;
        if (g_json)
            emit_json(json_pack("{s:b,s:I,s:i,s:i}", "halted", r->halted, "halt_epoch",
                                (json_int_t)r->halt_epoch, "nodes_ok", (int)ok, "nodes",
                                (int)r->n_peers));
        else {
            printf("halted (epoch %" PRIu64 "); nodes confirming: %zu of %zu\n", r->halt_epoch,
                   ok, r->n_peers);
            for (size_t i = 0; i < r->n_peers; i++)
                if (!r->peers[i]->ok)
                    printf("  %s: NOT confirmed: %s (halt that node directly)\n",
                           r->peers[i]->identity, r->peers[i]->detail);
        }
        sigil_rpc_msg_free(m);
    }
    sigil_rpc_client_free(k.rpc);
    return rc;
}

static const char resume_help[] =
    "usage: sigil-ceremony resume STATEMENT --approval FILE... [--officer NAME]\n"
    "\n"
    "Resumes a halted cluster with k-of-m officer approvals of a resume\n"
    "statement (propose resume; approve). The approvals are checked here first\n"
    "(too few, duplicate, expired, foreign: refused with the reason) and then by\n"
    "the coordinator and by every node; a statement is accepted once (replay:\n"
    "refused). --officer picks the certificate to connect with (default: the\n"
    "first approval's officer).\n"
    "\n"
    "example:\n"
    "  sigil-ceremony resume resume.stmt --approval carol.approval --approval dave.approval\n";

static const char keygen_help[] =
    "usage: sigil-ceremony keygen STATEMENT --approval FILE... [--officer NAME]\n"
    "\n"
    "Runs the approved distributed key generation (propose keygen; approve) on\n"
    "every node through the coordinator, which verifies the k-of-m approvals,\n"
    "the key id and the parameters' hash, and accepts a statement once.\n"
    "\n"
    "example:\n"
    "  sigil-ceremony propose keygen hot-ed --scheme frost-ed25519 --threshold 2 --out kg.stmt\n"
    "  sigil-ceremony approve kg.stmt --officer carol --out c.apr --yes\n"
    "  sigil-ceremony approve kg.stmt --officer dave --out d.apr --yes\n"
    "  sigil-ceremony keygen kg.stmt --approval c.apr --approval d.apr\n";

static int cmd_approved_op(cluster *c, const char *op, int argc, char **argv)
{
    const char *stmt_path = NULL, *officer = NULL;
    char *files[MAX_OFFICERS * 2];
    int nf = 0, skip = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(!strcmp(op, "resume") ? resume_help : keygen_help, stdout);
            return 0;
        } else if (!strcmp(a, "--skip-local-check")) /* tests: show the servers refuse too */
            skip = 1;
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
    char ident[96];
    conn k;
    int rc;
    /* connect first: resume needs the current halt epoch for the local check */
    if (stmt_load(stmt_path, &s))
        return 1;
    json_decref(s.params);
    if (!officer) {
        json_error_t je;
        json_t *r = json_load_file(files[0], 0, &je);
        const char *w = json_string_value(json_object_get(r, "officer"));
        snprintf(ident, sizeof ident, "officer/%s", w && valid_name(w) ? w : "-");
        json_decref(r);
    } else
        snprintf(ident, sizeof ident, "officer/%s", officer);
    if (connect_as(c, ident, &k))
        return 1;
    uint64_t epoch = 0;
    if (!strcmp(op, "resume")) {
        Sigil__V1__AdminStatusRequest sr = SIGIL__V1__ADMIN_STATUS_REQUEST__INIT;
        Sigil__V1__AdminStatusResponse *st = NULL;
        if (rpc(&k, "status", SIGIL_RPC_ADMIN_STATUS, &sr.base,
                &sigil__v1__admin_status_response__descriptor, (ProtobufCMessage **)&st)) {
            sigil_rpc_client_free(k.rpc);
            return 1;
        }
        epoch = st->halt_epoch;
        int halted = st->halted;
        sigil_rpc_msg_free(&st->base);
        if (!halted) {
            sigil_rpc_client_free(k.rpc);
            return fail(1, "resume: the cluster is not halted; nothing to do");
        }
    }
    rc = gather(c, stmt_path, files, nf, op, epoch, skip, &s, ap, app, names, sigs);
    if (rc) {
        json_decref(s.params);
        sigil_rpc_client_free(k.rpc);
        return rc;
    }
    ProtobufCMessage *m = NULL;
    if (!strcmp(op, "resume")) {
        Sigil__V1__ResumeRequest req = SIGIL__V1__RESUME_REQUEST__INIT;
        req.statement = (ProtobufCBinaryData){s.len, s.bytes};
        req.approvals = app;
        req.n_approvals = (size_t)nf;
        progress("sending resume with %d approvals to the coordinator", nf);
        rc = rpc(&k, "resume", SIGIL_RPC_ADMIN_RESUME, &req.base,
                 &sigil__v1__resume_response__descriptor, &m);
        if (!rc) {
            Sigil__V1__ResumeResponse *r = (Sigil__V1__ResumeResponse *)m;
            size_t ok = 0;
            for (size_t i = 0; i < r->n_peers; i++)
                ok += r->peers[i]->ok;
            if (g_json)
                emit_json(json_pack("{s:b,s:I,s:i,s:i,s:i}", "halted", r->halted, "halt_epoch",
                                    (json_int_t)r->halt_epoch, "approvals", nf, "nodes_ok",
                                    (int)ok, "nodes", (int)r->n_peers));
            else {
                printf("resumed (epoch %" PRIu64 ") with %d approvals; nodes resumed: %zu of "
                       "%zu\n",
                       r->halt_epoch, nf, ok, r->n_peers);
                for (size_t i = 0; i < r->n_peers; i++)
                    if (!r->peers[i]->ok)
                        printf("  %s: %s\n", r->peers[i]->identity, r->peers[i]->detail);
            }
        }
    } else {
        Sigil__V1__ApprovalStatement *st = stmt_decode(&s);
        Sigil__V1__KeygenRequest req = SIGIL__V1__KEYGEN_REQUEST__INIT;
        int scheme = 0;
        unsigned t = 0;
        if (!st || strcmp(st->action, "keygen") || keygen_params(&s, st, &scheme, &t)) {
            if (st)
                sigil_rpc_msg_free(&st->base);
            json_decref(s.params);
            sigil_rpc_client_free(k.rpc);
            return fail(1, "keygen: %s is not a keygen statement with matching parameters",
                        stmt_path);
        }
        req.key_id = st->key_id;
        req.scheme = (Sigil__V1__Scheme)scheme;
        req.threshold = t;
        req.statement = (ProtobufCBinaryData){s.len, s.bytes};
        req.approvals = app;
        req.n_approvals = (size_t)nf;
        progress("distributed key generation of %s (%s, %u of %u) on every node...", st->key_id,
                 sigil_coord_scheme_name(scheme), t, c->n);
        rc = rpc(&k, "keygen", KEYGEN_METHOD, &req.base, &sigil__v1__keygen_response__descriptor,
                 &m);
        if (!rc) {
            Sigil__V1__KeyInfo *ki = ((Sigil__V1__KeygenResponse *)m)->key;
            char pk[2 * 65 + 1] = "";
            if (ki && ki->public_key.len <= 65)
                hex(pk, ki->public_key.data, ki->public_key.len);
            if (g_json)
                emit_json(json_pack("{s:s,s:s,s:s,s:i,s:i}", "key_id", ki ? ki->key_id : "",
                                    "scheme", sigil_coord_scheme_name(scheme), "public_key", pk,
                                    "threshold", (int)t, "parties", (int)c->n));
            else
                printf("key %s created (%s, %u of %u): public key %s\n", ki ? ki->key_id : "?",
                       sigil_coord_scheme_name(scheme), t, c->n, pk);
        }
        sigil_rpc_msg_free(&st->base);
    }
    if (m)
        sigil_rpc_msg_free(m);
    json_decref(s.params);
    sigil_rpc_client_free(k.rpc);
    return rc;
}

static int cmd_status(cluster *c, int argc, char **argv)
{
    const char *officer = argc >= 2 && !strcmp(argv[0], "--officer") ? argv[1] : NULL;
    if (argc && !officer) {
        printf("usage: sigil-ceremony status --officer NAME\n\nShows the breaker state and the "
               "quorum policy.\n\nexample:\n  sigil-ceremony status --officer carol\n");
        return strcmp(argv[0], "--help") ? 2 : 0;
    }
    char ident[96];
    conn k;
    snprintf(ident, sizeof ident, "officer/%s", officer ? officer : c->officers[0].name);
    if (connect_as(c, ident, &k))
        return 1;
    Sigil__V1__AdminStatusRequest sr = SIGIL__V1__ADMIN_STATUS_REQUEST__INIT;
    Sigil__V1__AdminStatusResponse *r = NULL;
    int rc = rpc(&k, "status", SIGIL_RPC_ADMIN_STATUS, &sr.base,
                 &sigil__v1__admin_status_response__descriptor, (ProtobufCMessage **)&r);
    if (!rc) {
        if (g_json)
            emit_json(json_pack("{s:s,s:b,s:I,s:s,s:s,s:i,s:i}", "cluster_id", r->cluster_id,
                                "halted", r->halted, "halt_epoch", (json_int_t)r->halt_epoch,
                                "halted_by", r->halted_by, "reason", r->reason, "k",
                                (int)r->approvals_required, "m", (int)r->officers));
        else
            printf("cluster %s: %s (epoch %" PRIu64 "%s%s); approvals needed: %u of %u\n",
                   r->cluster_id, r->halted ? "HALTED" : "running", r->halt_epoch,
                   r->halted ? ", by " : "", r->halted ? r->halted_by : "",
                   r->approvals_required, r->officers);
        sigil_rpc_msg_free(&r->base);
    }
    sigil_rpc_client_free(k.rpc);
    return rc;
}

/* ------------------------------------------------------------------ main */

static const char usage_text[] =
    "usage: sigil-ceremony [--cluster DIR] [--json] COMMAND [ARGS]   (COMMAND --help for more)\n"
    "\n"
    "The security officers' CLI: cluster PKI and HSM tokens, k-of-m approvals,\n"
    "and the approved operations, sent to the coordinator's admin API.\n"
    "DIR (or $SIGIL_CLUSTER) is the directory `init` made.\n"
    "\n"
    "commands:\n"
    "  init       create a cluster (PKI, node and officer tokens, quorum, configs)\n"
    "  propose    write a statement file (resume, keygen, import, backup, restore,\n"
    "             refresh, retire)\n"
    "  approve    show a statement and sign it with an officer's token\n"
    "  halt       trip the circuit breaker (one officer)\n"
    "  resume     resume a halted cluster (k-of-m approval files)\n"
    "  keygen     distributed key generation (k-of-m approval files)\n"
    "  import     import an existing private key, split inside this process (k-of-m)\n"
    "  refresh    proactive share refresh of a key (k-of-m approval files)\n"
    "  retire     destroy every share of a key; the public key stays (k-of-m)\n"
    "  backup-key make an officer's RSA backup key in the officer's token\n"
    "  backup     export every share of a key encrypted to k-of-m officers (k-of-m)\n"
    "  replace-node  new token and identity key for a destroyed node\n"
    "  restore-piece one officer's piece for a replacement node (in the officer's token)\n"
    "  restore    give a replacement node its share from k pieces (k-of-m)\n"
    "  status     breaker state and quorum policy\n"
    "\n"
    "example, from nothing to a signing key:\n"
    "  export SIGIL_CLUSTER=/srv/sigil\n"
    "  sigil-ceremony init --id prod -n 3 -t 2 --officers carol,dave,erin -k 2\n"
    "  scripts/cluster start $SIGIL_CLUSTER\n"
    "  sigil-ceremony propose keygen hot-ed --scheme frost-ed25519 --threshold 2 --out kg.stmt\n"
    "  sigil-ceremony approve kg.stmt --officer carol --out c.apr\n"
    "  sigil-ceremony approve kg.stmt --officer dave --out d.apr\n"
    "  sigil-ceremony keygen kg.stmt --approval c.apr --approval d.apr\n";

int main(int argc, char **argv)
{
    const char *dir = getenv("SIGIL_CLUSTER");
    int i = 1;
    if (sodium_init() < 0)
        return 1;
    ssize_t l = readlink("/proc/self/exe", g_self_dir, sizeof g_self_dir - 1);
    if (l > 0) {
        g_self_dir[l] = 0;
        char *sl = strrchr(g_self_dir, '/');
        if (sl)
            *sl = 0;
    }
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--json"))
            g_json = 1;
        else if (!strcmp(argv[i], "--cluster") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else {
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (i >= argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[i];
    int cargc = argc - i - 1;
    char **cargv = argv + i + 1;
    /* allow --cluster after the command too */
    for (int j = 0; j + 1 < cargc; j++)
        if (!strcmp(cargv[j], "--cluster")) {
            dir = cargv[j + 1];
            memmove(&cargv[j], &cargv[j + 2], (size_t)(cargc - j - 2) * sizeof *cargv);
            cargc -= 2;
            break;
        }
    if (!strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "init"))
        return cmd_init(dir, cargc, cargv);
    int wants_help = cargc && (!strcmp(cargv[0], "--help") || !strcmp(cargv[0], "-h"));
    cluster c;
    memset(&c, 0, sizeof c);
    if (!wants_help && cluster_load(dir, &c))
        return 1;
    if (!strcmp(cmd, "propose"))
        return cmd_propose(&c, cargc, cargv);
    if (!strcmp(cmd, "approve"))
        return cmd_approve(&c, cargc, cargv);
    if (!strcmp(cmd, "halt"))
        return cmd_halt(&c, cargc, cargv);
    if (!strcmp(cmd, "resume") || !strcmp(cmd, "keygen"))
        return cmd_approved_op(&c, cmd, cargc, cargv);
    if (!strcmp(cmd, "status"))
        return cmd_status(&c, cargc, cargv);
    if (!strcmp(cmd, "import"))
        return cer_cmd_import(&c, cargc, cargv); /* import.c */
    if (!strcmp(cmd, "backup-key") || !strcmp(cmd, "backup") || !strcmp(cmd, "restore-piece") ||
        !strcmp(cmd, "restore") || !strcmp(cmd, "replace-node"))
        return cer_cmd_backup(&c, cmd, cargc, cargv); /* backup.c */
    if (!strcmp(cmd, "refresh") || !strcmp(cmd, "retire"))
        return cer_cmd_lifecycle(&c, cmd, cargc, cargv);
    return fail(2, "unknown command '%s' (try sigil-ceremony --help)", cmd);
}
