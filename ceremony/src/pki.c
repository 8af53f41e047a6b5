/* The cluster's X.509 PKI with OpenSSL: a P-256 CA and leaf certificates
 * whose SAN carries the sigil:// identity. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ceremony.h"
#include "sigil/err.h"

static EVP_PKEY *new_p256(void)
{
    return EVP_EC_gen("P-256");
}

/* write a PEM file with the given mode, refusing to follow or reuse */
static int write_pem(const char *path, int mode, EVP_PKEY *key, X509 *cert)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    if (fd < 0)
        return SIGIL_E_IO;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return SIGIL_E_IO;
    }
    int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_X509(f, cert);
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    return ok ? SIGIL_OK : SIGIL_E_IO;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex)
        return 0;
    int ok = X509_add_ext(cert, ex, -1);
    X509_EXTENSION_free(ex);
    return ok;
}

static X509 *new_cert(EVP_PKEY *pub, const char *cn, unsigned days)
{
    X509 *c = X509_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    if (!c || RAND_bytes(serial, sizeof serial) != 1)
        goto bad;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) || !X509_set_version(c, 2) ||
        !X509_gmtime_adj(X509_getm_notBefore(c), -300) ||
        !X509_gmtime_adj(X509_getm_notAfter(c), (long)days * 86400L) ||
        !X509_set_pubkey(c, pub) ||
        !X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                                    (const unsigned char *)cn, -1, -1, 0))
        goto bad;
    BN_free(bn);
    return c;
bad:
    BN_free(bn);
    X509_free(c);
    return NULL;
}

int cer_pki_ca(const char *dir, const char *cluster_id, unsigned days)
{
    char path[CER_PATH_MAX], cn[128];
    EVP_PKEY *k = new_p256();
    X509 *c = NULL;
    int rc = SIGIL_E_CRYPTO;
    snprintf(cn, sizeof cn, "Sigil cluster %s CA", cluster_id);
    if (!k || !(c = new_cert(k, cn, days)) ||
        !X509_set_issuer_name(c, X509_get_subject_name(c)) ||
        !add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        !add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_ext(c, c, NID_subject_key_identifier, "hash") || !X509_sign(c, k, EVP_sha256()))
        goto out;
    snprintf(path, sizeof path, "%s/ca.key", dir);
    if ((rc = write_pem(path, 0600, k, NULL)))
        goto out;
    snprintf(path, sizeof path, "%s/ca.pem", dir);
    rc = write_pem(path, 0644, NULL, c);
out:
    X509_free(c);
    EVP_PKEY_free(k);
    return rc;
}

int cer_pki_issue(const char *dir, const char *identity, unsigned days)
{
    char path[CER_PATH_MAX], file[128], cn[160], san[256];
    EVP_PKEY *cak = NULL, *k = NULL;
    X509 *ca = NULL, *c = NULL;
    FILE *f;
    int rc = SIGIL_E_CRYPTO;

    if (strlen(identity) >= sizeof file - 1)
        return SIGIL_E_INVALID;
    cer_identity_file(identity, file, sizeof file);
    snprintf(path, sizeof path, "%s/ca.key", dir);
    if (!(f = fopen(path, "r")))
        return SIGIL_E_IO;
    cak = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/ca.pem", dir);
    if (!(f = fopen(path, "r"))) {
        EVP_PKEY_free(cak);
        return SIGIL_E_IO;
    }
    ca = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    snprintf(cn, sizeof cn, "sigil-%s", file);
    /* loopback names too, so node and coordinator certificates also serve
     * as server certificates on 127.0.0.1 */
    snprintf(san, sizeof san, "URI:sigil://%s,DNS:localhost,IP:127.0.0.1", identity);
    if (!cak || !ca || !(k = new_p256()) || !(c = new_cert(k, cn, days)) ||
        !X509_set_issuer_name(c, X509_get_subject_name(ca)) ||
        !add_ext(c, ca, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(c, ca, NID_key_usage, "critical,digitalSignature,keyAgreement") ||
        !add_ext(c, ca, NID_ext_key_usage, "serverAuth,clientAuth") ||
        !add_ext(c, ca, NID_subject_alt_name, san) ||
        !add_ext(c, ca, NID_authority_key_identifier, "keyid:always") ||
        !X509_sign(c, cak, EVP_sha256()))
        goto out;
    snprintf(path, sizeof path, "%s/%s.key", dir, file);
    if ((rc = write_pem(path, 0600, k, NULL)))
        goto out;
    snprintf(path, sizeof path, "%s/%s.pem", dir, file);
    rc = write_pem(path, 0644, NULL, c);
out:
    X509_free(c);
    X509_free(ca);
    EVP_PKEY_free(k);
    EVP_PKEY_free(cak);
    return rc;
}
