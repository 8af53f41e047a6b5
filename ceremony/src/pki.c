/* The cluster's X.509 PKI with OpenSSL: a P-256 CA whose private key lives
 * in the officers' CA token (PKCS#11, generated there, sensitive and never
 * extractable), and leaf certificates whose SAN carries the sigil://
 * identity.
 *
 * Signing without the deprecated ENGINE API and without a PKCS#11 provider
 * (Debian 12 has neither pkcs11-provider nor a non-deprecated path through
 * libengine-pkcs11-openssl): OpenSSL builds the certificate; its
 * TBSCertificate (with signature algorithm ecdsa-with-SHA256) is encoded
 * with i2d_re_X509_tbs and hashed with SHA-256; the token signs the digest
 * (CKM_ECDSA); r || s becomes a DER ECDSA-Sig-Value (i2d_ECDSA_SIG); and
 *   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
 *                              signatureValue BIT STRING }
 * is encoded by OpenSSL's ASN.1 templates (CERT_ASM below), parsed back with
 * d2i_X509 and verified with X509_verify under the CA's public key before it
 * is written. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ceremony.h"
#include "sigil/err.h"
#include "sigil/hsm.h"

/* Certificate ::= SEQUENCE (RFC 5280 4.1); the TBSCertificate is carried as
 * its finished DER (an ANY holding a SEQUENCE is written out verbatim). */
typedef struct {
    ASN1_TYPE *tbs;
    X509_ALGOR *alg;
    ASN1_BIT_STRING *sig;
} CERT_ASM;

ASN1_SEQUENCE(CERT_ASM) = {
    ASN1_SIMPLE(CERT_ASM, tbs, ASN1_ANY),
    ASN1_SIMPLE(CERT_ASM, alg, X509_ALGOR),
    ASN1_SIMPLE(CERT_ASM, sig, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CERT_ASM)

static EVP_PKEY *new_p256(void)
{
    return EVP_EC_gen("P-256");
}

/* The CA's public key (uncompressed point from the token) as an EVP_PKEY. */
static EVP_PKEY *p256_pub(const uint8_t pk[SIGIL_HSM_P256_PK_LEN])
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pk,
                                          SIGIL_HSM_P256_PK_LEN),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *key = NULL;
    if (!kc || EVP_PKEY_fromdata_init(kc) != 1 ||
        EVP_PKEY_fromdata(kc, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(kc);
    return key;
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

/* Sign c (complete but unsigned) with the CA key in the token; return the
 * signed certificate as OpenSSL parses it from its DER, verified under
 * capub, or NULL. */
static X509 *token_sign(sigil_hsm *ca, X509 *c, EVP_PKEY *capub)
{
    unsigned char *tbs = NULL, *der = NULL, *out = NULL;
    uint8_t dg[32], rs[SIGIL_HSM_P256_SIG_LEN];
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    ASN1_STRING *tbss = NULL;
    CERT_ASM *a = NULL;
    X509 *res = NULL;
    int tl, dl, ol;

    /* The TBSCertificate names its signature algorithm. OpenSSL 3.0 has no
     * setter for it (X509_REQ_set1_signature_algo exists for requests only;
     * X509_sign sets it from the private key, which we do not hold): the
     * getter returns the certificate's own, non-const, field. */
    X509_ALGOR *alg = (X509_ALGOR *)X509_get0_tbs_sigalg(c);
    if (!X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL))
        goto out;
    if ((tl = i2d_re_X509_tbs(c, &tbs)) <= 0)
        goto out;
    SHA256(tbs, (size_t)tl, dg);
    if (sigil_hsm_sign_p256(ca, CER_CA_KEY_LABEL, dg, rs) != SIGIL_OK)
        goto out;
    if (!(es = ECDSA_SIG_new()) || !(r = BN_bin2bn(rs, 32, NULL)) ||
        !(s = BN_bin2bn(rs + 32, 32, NULL)) || !ECDSA_SIG_set0(es, r, s))
        goto out;
    r = s = NULL; /* owned by es */
    if ((dl = i2d_ECDSA_SIG(es, &der)) <= 0)
        goto out;

    if (!(a = (CERT_ASM *)ASN1_item_new(ASN1_ITEM_rptr(CERT_ASM))) ||
        !(tbss = ASN1_STRING_type_new(V_ASN1_SEQUENCE)) || !ASN1_STRING_set(tbss, tbs, tl))
        goto out;
    ASN1_TYPE_set(a->tbs, V_ASN1_SEQUENCE, tbss);
    tbss = NULL; /* owned by a */
    X509_ALGOR_free(a->alg);
    if (!(a->alg = X509_ALGOR_dup(alg)) || !ASN1_BIT_STRING_set(a->sig, der, dl))
        goto out;
    /* whole bytes: no unused bits (else trailing zero bytes would be
     * dropped from the encoding, as for a named-bit list) */
    a->sig->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    a->sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    if ((ol = ASN1_item_i2d((ASN1_VALUE *)a, &out, ASN1_ITEM_rptr(CERT_ASM))) <= 0)
        goto out;

    const unsigned char *p = out;
    res = d2i_X509(NULL, &p, ol);
    if (!res || p != out + ol || X509_get_signature_nid(res) != NID_ecdsa_with_SHA256 ||
        X509_verify(res, capub) != 1) {
        X509_free(res);
        res = NULL;
    }
out:
    ASN1_item_free((ASN1_VALUE *)a, ASN1_ITEM_rptr(CERT_ASM));
    ASN1_STRING_free(tbss);
    ECDSA_SIG_free(es);
    BN_free(r);
    BN_free(s);
    OPENSSL_free(tbs);
    OPENSSL_free(der);
    OPENSSL_free(out);
    return res;
}

int cer_pki_open_ca(const char *cluster_dir, sigil_hsm **h)
{
    char conf[CER_PATH_MAX], pin[CER_PATH_MAX];
    *h = NULL;
    if ((size_t)snprintf(conf, sizeof conf, "%s/%s/softhsm2.conf", cluster_dir,
                         CER_CA_TOKEN_DIR) >= sizeof conf ||
        (size_t)snprintf(pin, sizeof pin, "%s/%s/%s.pin", cluster_dir, CER_CA_TOKEN_DIR,
                         CER_CA_TOKEN) >= sizeof pin)
        return SIGIL_E_INVALID;
    if (access(conf, R_OK))
        return SIGIL_E_NOT_FOUND;
    setenv("SOFTHSM2_CONF", conf, 1);
    sigil_hsm_config hc = {0};
    hc.token_label = CER_CA_TOKEN;
    hc.pin_file = pin;
    hc.max_sessions = 1;
    return sigil_hsm_open(h, &hc);
}

int cer_pki_ca(sigil_hsm *ca, const char *dir, const char *cluster_id, unsigned days)
{
    char path[CER_PATH_MAX], cn[128];
    uint8_t pk[SIGIL_HSM_P256_PK_LEN];
    EVP_PKEY *pub = NULL;
    X509 *c = NULL, *signed_ = NULL;
    int rc;
    if ((rc = sigil_hsm_create_p256(ca, CER_CA_KEY_LABEL, pk)) != SIGIL_OK)
        return rc;
    rc = SIGIL_E_CRYPTO;
    snprintf(cn, sizeof cn, "Sigil cluster %s CA", cluster_id);
    if (!(pub = p256_pub(pk)) || !(c = new_cert(pub, cn, days)) ||
        !X509_set_issuer_name(c, X509_get_subject_name(c)) ||
        !add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        !add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_ext(c, c, NID_subject_key_identifier, "hash") ||
        !(signed_ = token_sign(ca, c, pub)))
        goto out;
    snprintf(path, sizeof path, "%s/ca.pem", dir);
    rc = write_pem(path, 0644, NULL, signed_);
out:
    X509_free(signed_);
    X509_free(c);
    EVP_PKEY_free(pub);
    return rc;
}

int cer_pki_issue(sigil_hsm *ca, const char *dir, const char *identity, unsigned days)
{
    char path[CER_PATH_MAX], file[128], cn[160], san[256];
    uint8_t pk[SIGIL_HSM_P256_PK_LEN];
    EVP_PKEY *capub = NULL, *k = NULL;
    X509 *cacert = NULL, *c = NULL, *signed_ = NULL;
    FILE *f;
    int rc;

    if (strlen(identity) >= sizeof file - 1)
        return SIGIL_E_INVALID;
    cer_identity_file(identity, file, sizeof file);
    if ((rc = sigil_hsm_p256_pubkey(ca, CER_CA_KEY_LABEL, pk)) != SIGIL_OK)
        return rc;
    snprintf(path, sizeof path, "%s/ca.pem", dir);
    if (!(f = fopen(path, "r")))
        return SIGIL_E_IO;
    cacert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    rc = SIGIL_E_CRYPTO;
    /* the token's key must be the one ca.pem certifies */
    if (!cacert || !(capub = p256_pub(pk)) || EVP_PKEY_eq(X509_get0_pubkey(cacert), capub) != 1) {
        rc = SIGIL_E_MISMATCH;
        goto out;
    }
    snprintf(cn, sizeof cn, "sigil-%s", file);
    /* loopback names too, so node and coordinator certificates also serve
     * as server certificates on 127.0.0.1 */
    snprintf(san, sizeof san, "URI:sigil://%s,DNS:localhost,IP:127.0.0.1", identity);
    if (!(k = new_p256()) || !(c = new_cert(k, cn, days)) ||
        !X509_set_issuer_name(c, X509_get_subject_name(cacert)) ||
        !add_ext(c, cacert, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(c, cacert, NID_key_usage, "critical,digitalSignature,keyAgreement") ||
        !add_ext(c, cacert, NID_ext_key_usage, "serverAuth,clientAuth") ||
        !add_ext(c, cacert, NID_subject_alt_name, san) ||
        !add_ext(c, cacert, NID_authority_key_identifier, "keyid:always") ||
        !(signed_ = token_sign(ca, c, capub)))
        goto out;
    snprintf(path, sizeof path, "%s/%s.key", dir, file);
    if ((rc = write_pem(path, 0600, k, NULL)))
        goto out;
    snprintf(path, sizeof path, "%s/%s.pem", dir, file);
    rc = write_pem(path, 0644, NULL, signed_);
out:
    X509_free(signed_);
    X509_free(c);
    X509_free(cacert);
    EVP_PKEY_free(k);
    EVP_PKEY_free(capub);
    return rc;
}
