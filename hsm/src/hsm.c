/* sigil_hsm: PKCS#11 sealing key and Ed25519 keys in a token.
 *
 * The module is dlopen'ed and initialised once per process per path
 * (reference counted, CKF_OS_LOCKING_OK). A handle logs in on a dedicated
 * session that it keeps open for its lifetime (PKCS#11 login state belongs
 * to the application and lasts while any session is open), and lends the
 * other sessions out of a bounded pool, one per call in flight. Object
 * handles of the sealing key and of Ed25519 keys are looked up once and
 * cached: token object handles are valid in every session of the
 * application. */
#include "sigil/hsm.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "sigil/err.h"

#define SEAL_MAGIC "SGSL"
#define SEAL_VERSION 1
#define SEAL_KEY_ID_LEN 16
#define SEAL_IV_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_HDR_LEN (4 + 1 + SEAL_KEY_ID_LEN + SEAL_IV_LEN + 4)
#define PIN_MAX 256
#define ED_CACHE 8
#define DEFAULT_SESSIONS 8
#define MAX_SESSIONS 256

_Static_assert(SIGIL_HSM_SEAL_OVERHEAD == SEAL_HDR_LEN + SEAL_TAG_LEN, "overhead");

/* DER of the OID 1.3.101.112 (id-Ed25519, RFC 8410). */
static const uint8_t ed25519_oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};

/* ---------------------------------------------------------------- module */

typedef struct module {
    struct module *next;
    char *path;
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    unsigned refs;
    int finalize; /* we initialised the module: finalize it at the end */
    CK_SLOT_ID *open_slots; /* slots with a live handle: one per token */
    unsigned n_open;
} module;

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static module *modules;

static int module_get(const char *given, module **out)
{
    /* One entry per file, whatever path (symlink, relative) names it. */
    char *path = realpath(given, NULL);
    if (!path)
        return SIGIL_E_UNAVAILABLE;
    int rc = SIGIL_OK;
    pthread_mutex_lock(&modules_lock);
    module *m;
    for (m = modules; m; m = m->next)
        if (!strcmp(m->path, path))
            break;
    if (m) {
        m->refs++;
        *out = m;
        goto done;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        rc = SIGIL_E_NOMEM;
        goto done;
    }
    m->path = path;
    path = NULL;
    m->dl = dlopen(m->path, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList gfl = NULL;
    if (m->dl)
        *(void **)&gfl = dlsym(m->dl, "C_GetFunctionList");
    if (!gfl || gfl(&m->f) != CKR_OK || !m->f) {
        rc = SIGIL_E_UNAVAILABLE;
        goto fail;
    }
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv = m->f->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        rc = SIGIL_E_UNAVAILABLE;
        goto fail;
    }
    /* Finalize at the end only what we initialised: someone else in the
     * process may be using the module too. */
    m->finalize = rv == CKR_OK;
    m->refs = 1;
    m->next = modules;
    modules = m;
    *out = m;
    goto done;
fail:
    if (m->dl)
        dlclose(m->dl);
    free(m->path);
    free(m);
done:
    pthread_mutex_unlock(&modules_lock);
    free(path);
    return rc;
}

static void module_put(module *m)
{
    pthread_mutex_lock(&modules_lock);
    if (--m->refs == 0) {
        for (module **p = &modules; *p; p = &(*p)->next)
            if (*p == m) {
                *p = m->next;
                break;
            }
        if (m->finalize)
            m->f->C_Finalize(NULL);
        dlclose(m->dl);
        free(m->open_slots);
        free(m->path);
        free(m);
    }
    pthread_mutex_unlock(&modules_lock);
}

/* Claim slot for one handle: a second handle on the same token in the same
 * process would share (and on close, end) the first one's login. */
static int module_claim_slot(module *m, CK_SLOT_ID slot)
{
    int rc = SIGIL_OK;
    pthread_mutex_lock(&modules_lock);
    for (unsigned i = 0; i < m->n_open; i++)
        if (m->open_slots[i] == slot) {
            rc = SIGIL_E_EXISTS;
            goto done;
        }
    CK_SLOT_ID *p = realloc(m->open_slots, (m->n_open + 1) * sizeof(*p));
    if (!p) {
        rc = SIGIL_E_NOMEM;
        goto done;
    }
    m->open_slots = p;
    m->open_slots[m->n_open++] = slot;
done:
    pthread_mutex_unlock(&modules_lock);
    return rc;
}

static void module_release_slot(module *m, CK_SLOT_ID slot)
{
    pthread_mutex_lock(&modules_lock);
    for (unsigned i = 0; i < m->n_open; i++)
        if (m->open_slots[i] == slot) {
            m->open_slots[i] = m->open_slots[--m->n_open];
            break;
        }
    pthread_mutex_unlock(&modules_lock);
}

/* ---------------------------------------------------------------- handle */

struct sigil_hsm {
    module *mod;
    CK_FUNCTION_LIST_PTR f;
    CK_SLOT_ID slot;
    int slot_claimed;
    CK_SESSION_HANDLE login; /* held open: keeps the user logged in */
    int logged_in;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    CK_SESSION_HANDLE *idle; /* pool of idle sessions */
    unsigned n_idle, n_open, max_open;

    int have_seal; /* sealing key present and checked */
    CK_OBJECT_HANDLE seal_key;
    uint8_t seal_id[SEAL_KEY_ID_LEN];

    struct {
        char label[SIGIL_HSM_LABEL_MAX + 1];
        CK_OBJECT_HANDLE priv;
        uint8_t pk[SIGIL_HSM_ED25519_PK_LEN];
    } ed[ED_CACHE];
    unsigned n_ed;
};

static int rv_err(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
        return SIGIL_OK;
    case CKR_HOST_MEMORY:
    case CKR_DEVICE_MEMORY:
        return SIGIL_E_NOMEM;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_LOCKED:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
        return SIGIL_E_PERMISSION;
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
        return SIGIL_E_UNSEAL;
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
        return SIGIL_E_NOT_FOUND;
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_USER_NOT_LOGGED_IN:
        return SIGIL_E_UNAVAILABLE;
    default:
        return SIGIL_E_CRYPTO;
    }
}

/* Borrow a session from the pool, opening one if below the limit, else
 * wait for one to come back. */
static int sess_get(sigil_hsm *h, CK_SESSION_HANDLE *s)
{
    pthread_mutex_lock(&h->lock);
    while (h->n_idle == 0 && h->n_open >= h->max_open)
        pthread_cond_wait(&h->cond, &h->lock);
    if (h->n_idle) {
        *s = h->idle[--h->n_idle];
        pthread_mutex_unlock(&h->lock);
        return SIGIL_OK;
    }
    h->n_open++;
    pthread_mutex_unlock(&h->lock);
    CK_RV rv = h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
    if (rv != CKR_OK) {
        pthread_mutex_lock(&h->lock);
        h->n_open--;
        pthread_cond_signal(&h->cond);
        pthread_mutex_unlock(&h->lock);
        return rv_err(rv) == SIGIL_E_NOMEM ? SIGIL_E_NOMEM : SIGIL_E_UNAVAILABLE;
    }
    return SIGIL_OK;
}

/* 1 if a session may be in an unknown state after rv: an operation left
 * active (PKCS#11 keeps it only after CKR_BUFFER_TOO_SMALL), or the session
 * itself failed. Any other failed C_Encrypt/C_Decrypt/C_Sign ends the
 * operation (SoftHSM answers a bad GCM tag with CKR_GENERAL_ERROR and the
 * session is immediately usable again), so the session is reused. */
static int sess_broken(CK_RV rv)
{
    return rv == CKR_BUFFER_TOO_SMALL || rv == CKR_OPERATION_ACTIVE ||
           rv_err(rv) == SIGIL_E_UNAVAILABLE;
}

/* Return a session. A session whose state is unknown after an unexpected
 * error is closed instead of reused. */
static void sess_put(sigil_hsm *h, CK_SESSION_HANDLE s, int discard)
{
    if (discard)
        h->f->C_CloseSession(s);
    pthread_mutex_lock(&h->lock);
    if (discard)
        h->n_open--;
    else
        h->idle[h->n_idle++] = s;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

/* Find exactly one object matching tmpl. */
static int find_one(sigil_hsm *h, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                    CK_OBJECT_HANDLE *obj)
{
    CK_OBJECT_HANDLE found[2];
    CK_ULONG count = 0;
    CK_RV rv = h->f->C_FindObjectsInit(s, tmpl, n);
    if (rv != CKR_OK)
        return rv_err(rv);
    rv = h->f->C_FindObjects(s, found, 2, &count);
    CK_RV rv2 = h->f->C_FindObjectsFinal(s);
    if (rv != CKR_OK || rv2 != CKR_OK)
        return rv_err(rv != CKR_OK ? rv : rv2);
    if (count == 0)
        return SIGIL_E_NOT_FOUND;
    if (count > 1)
        return SIGIL_E_EXISTS; /* ambiguous: refuse to guess */
    *obj = found[0];
    return SIGIL_OK;
}

static int find_token(CK_FUNCTION_LIST_PTR f, const char *label, CK_SLOT_ID *slot)
{
    CK_ULONG n = 0;
    CK_RV rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK)
        return SIGIL_E_UNAVAILABLE;
    if (n == 0)
        return SIGIL_E_NOT_FOUND;
    CK_SLOT_ID *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return SIGIL_E_NOMEM;
    int rc = SIGIL_E_NOT_FOUND;
    rv = f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK) {
        rc = SIGIL_E_UNAVAILABLE;
        goto done;
    }
    unsigned char want[32];
    memset(want, ' ', sizeof(want));
    memcpy(want, label, strlen(label));
    unsigned matches = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        if (!(ti.flags & CKF_TOKEN_INITIALIZED) || memcmp(ti.label, want, 32) != 0)
            continue;
        matches++;
        *slot = slots[i];
    }
    rc = matches == 1 ? SIGIL_OK : matches ? SIGIL_E_EXISTS : SIGIL_E_NOT_FOUND;
done:
    free(slots);
    return rc;
}

/* Read the user PIN into secure memory. *pin is sodium_malloc'ed. */
static int read_pin(const sigil_hsm_config *cfg, char **pin, size_t *len)
{
    if ((cfg->pin_file == NULL) == (cfg->pin_env == NULL))
        return SIGIL_E_INVALID;
    char *p = sodium_malloc(PIN_MAX + 1);
    if (!p)
        return SIGIL_E_NOMEM;
    size_t n = 0;
    if (cfg->pin_env) {
        const char *v = getenv(cfg->pin_env);
        if (!v) {
            sodium_free(p);
            return SIGIL_E_NOT_FOUND;
        }
        n = strnlen(v, PIN_MAX + 1);
        if (n > PIN_MAX) {
            sodium_free(p);
            return SIGIL_E_TOO_LARGE;
        }
        memcpy(p, v, n);
    } else {
        int fd = open(cfg->pin_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            sodium_free(p);
            return errno == ENOENT ? SIGIL_E_NOT_FOUND : SIGIL_E_IO;
        }
        for (;;) {
            ssize_t r = read(fd, p + n, PIN_MAX + 1 - n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                close(fd);
                sodium_free(p);
                return SIGIL_E_IO;
            }
            if (r == 0 || (n += (size_t)r) == PIN_MAX + 1)
                break;
        }
        close(fd);
        size_t line = 0;
        while (line < n && p[line] != '\n' && p[line] != '\r')
            line++;
        if (line > PIN_MAX) {
            sodium_free(p); /* zeroizes */
            return SIGIL_E_TOO_LARGE;
        }
        sodium_memzero(p + line, n - line);
        n = line;
    }
    if (n == 0) {
        sodium_free(p);
        return SIGIL_E_INVALID;
    }
    p[n] = 0;
    *pin = p;
    *len = n;
    return SIGIL_OK;
}

static int label_ok(const char *label)
{
    if (!label)
        return 0;
    size_t n = strnlen(label, SIGIL_HSM_LABEL_MAX + 1);
    if (n == 0 || n > SIGIL_HSM_LABEL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (label[i] < 0x21 || label[i] > 0x7e)
            return 0;
    return 1;
}

/* Look up the sealing key; refuse one that is not protected as required. */
static int load_seal_key(sigil_hsm *h, CK_SESSION_HANDLE s)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, (void *)SIGIL_HSM_SEAL_LABEL, sizeof(SIGIL_HSM_SEAL_LABEL) - 1},
    };
    CK_OBJECT_HANDLE k;
    int rc = find_one(h, s, tmpl, 3, &k);
    if (rc != SIGIL_OK)
        return rc;
    CK_BBOOL tok = 0, sens = 0, extr = 1, never = 0;
    CK_ULONG vlen = 0;
    uint8_t id[SEAL_KEY_ID_LEN];
    CK_ATTRIBUTE a[] = {
        {CKA_TOKEN, &tok, sizeof(tok)},
        {CKA_SENSITIVE, &sens, sizeof(sens)},
        {CKA_EXTRACTABLE, &extr, sizeof(extr)},
        {CKA_NEVER_EXTRACTABLE, &never, sizeof(never)},
        {CKA_VALUE_LEN, &vlen, sizeof(vlen)},
        {CKA_ID, id, sizeof(id)},
    };
    CK_RV rv = h->f->C_GetAttributeValue(s, k, a, 6);
    if (rv != CKR_OK)
        return rv == CKR_BUFFER_TOO_SMALL ? SIGIL_E_ENCODING : rv_err(rv);
    if (!tok || !sens || extr || !never || vlen != 32 || a[5].ulValueLen != sizeof(id))
        return SIGIL_E_PERMISSION; /* a key that could leave the token */
    h->seal_key = k;
    memcpy(h->seal_id, id, sizeof(id));
    h->have_seal = 1;
    return SIGIL_OK;
}

int sigil_hsm_open(sigil_hsm **out, const sigil_hsm_config *cfg)
{
    if (!out)
        return SIGIL_E_INVALID;
    *out = NULL;
    if (!cfg || !label_ok(cfg->token_label) || cfg->max_sessions > MAX_SESSIONS)
        return SIGIL_E_INVALID;
    if (sodium_init() < 0)
        return SIGIL_E_CRYPTO;
    sigil_hsm *h = calloc(1, sizeof(*h));
    if (!h)
        return SIGIL_E_NOMEM;
    h->max_open = cfg->max_sessions ? cfg->max_sessions : DEFAULT_SESSIONS;
    h->login = CK_INVALID_HANDLE;
    h->idle = calloc(h->max_open, sizeof(*h->idle));
    if (!h->idle) {
        free(h);
        return SIGIL_E_NOMEM;
    }
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);

    char *pin = NULL;
    size_t pin_len = 0;
    int rc = read_pin(cfg, &pin, &pin_len);
    if (rc != SIGIL_OK)
        goto fail;
    rc = module_get(cfg->module_path ? cfg->module_path : SIGIL_HSM_DEFAULT_MODULE, &h->mod);
    if (rc != SIGIL_OK)
        goto fail;
    h->f = h->mod->f;
    if ((rc = find_token(h->f, cfg->token_label, &h->slot)) != SIGIL_OK)
        goto fail;
    if ((rc = module_claim_slot(h->mod, h->slot)) != SIGIL_OK)
        goto fail;
    h->slot_claimed = 1;
    CK_RV rv = h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                   &h->login);
    if (rv != CKR_OK) {
        h->login = CK_INVALID_HANDLE;
        rc = SIGIL_E_UNAVAILABLE;
        goto fail;
    }
    rv = h->f->C_Login(h->login, CKU_USER, (CK_UTF8CHAR_PTR)pin, pin_len);
    sodium_free(pin); /* zeroizes */
    pin = NULL;
    if (rv != CKR_OK) {
        rc = rv_err(rv);
        if (rc != SIGIL_E_PERMISSION && rc != SIGIL_E_NOMEM)
            rc = SIGIL_E_UNAVAILABLE;
        goto fail;
    }
    h->logged_in = 1;
    rc = load_seal_key(h, h->login);
    if (rc != SIGIL_OK && rc != SIGIL_E_NOT_FOUND)
        goto fail; /* not provisioned yet is fine; unsafe or ambiguous is not */
    *out = h;
    return SIGIL_OK;
fail:
    if (pin)
        sodium_free(pin);
    sigil_hsm_close(h);
    return rc;
}

void sigil_hsm_close(sigil_hsm *h)
{
    if (!h)
        return;
    if (h->f) {
        while (h->n_idle)
            h->f->C_CloseSession(h->idle[--h->n_idle]);
        if (h->logged_in)
            h->f->C_Logout(h->login);
        if (h->login != CK_INVALID_HANDLE)
            h->f->C_CloseSession(h->login);
    }
    if (h->slot_claimed)
        module_release_slot(h->mod, h->slot);
    if (h->mod)
        module_put(h->mod);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    free(h->idle);
    sodium_memzero(h, sizeof(*h));
    free(h);
}

/* ---------------------------------------------------------------- provisioning */

int sigil_hsm_create_seal_key(sigil_hsm *h)
{
    if (!h)
        return SIGIL_E_INVALID;
    CK_SESSION_HANDLE s;
    int rc = sess_get(h, &s);
    if (rc != SIGIL_OK)
        return rc;
    pthread_mutex_lock(&h->lock);
    int have = h->have_seal;
    pthread_mutex_unlock(&h->lock);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ATTRIBUTE q[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, (void *)SIGIL_HSM_SEAL_LABEL, sizeof(SIGIL_HSM_SEAL_LABEL) - 1},
    };
    CK_OBJECT_HANDLE k;
    if (have || (rc = find_one(h, s, q, 2, &k)) != SIGIL_E_NOT_FOUND) {
        sess_put(h, s, 0);
        return have || rc == SIGIL_OK ? SIGIL_E_EXISTS : rc;
    }
    uint8_t id[SEAL_KEY_ID_LEN];
    randombytes_buf(id, sizeof(id));
    CK_ULONG len = 32;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_VALUE_LEN, &len, sizeof(len)},
        {CKA_LABEL, (void *)SIGIL_HSM_SEAL_LABEL, sizeof(SIGIL_HSM_SEAL_LABEL) - 1},
        {CKA_ID, id, sizeof(id)},
        {CKA_TOKEN, &t, sizeof(t)},
        {CKA_PRIVATE, &t, sizeof(t)},
        {CKA_SENSITIVE, &t, sizeof(t)},
        {CKA_EXTRACTABLE, &f, sizeof(f)},
        {CKA_MODIFIABLE, &f, sizeof(f)},
        {CKA_COPYABLE, &f, sizeof(f)},
        {CKA_ENCRYPT, &t, sizeof(t)},
        {CKA_DECRYPT, &t, sizeof(t)},
        {CKA_WRAP, &f, sizeof(f)},
        {CKA_UNWRAP, &f, sizeof(f)},
        {CKA_SIGN, &f, sizeof(f)},
        {CKA_VERIFY, &f, sizeof(f)},
        {CKA_DERIVE, &f, sizeof(f)},
    };
    CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
    CK_RV rv = h->f->C_GenerateKey(s, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &k);
    if (rv != CKR_OK) {
        sess_put(h, s, 0);
        return rv_err(rv);
    }
    pthread_mutex_lock(&h->lock);
    rc = load_seal_key(h, s);
    pthread_mutex_unlock(&h->lock);
    sess_put(h, s, 0);
    return rc;
}

/* Public key from CKA_EC_POINT: SoftHSM stores a DER OCTET STRING
 * (04 20 || 32 bytes); accept the raw 32 bytes too (PKCS#11 3.0 allows it). */
static int decode_ec_point(const uint8_t *p, size_t n, uint8_t pk[32])
{
    sigil_buf b;
    sigil_buf_view(&b, p, n);
    if (n == 32)
        return sigil_buf_get(&b, pk, 32);
    uint8_t tag, len;
    int rc;
    if ((rc = sigil_buf_get_u8(&b, &tag)) != SIGIL_OK || (rc = sigil_buf_get_u8(&b, &len)) != SIGIL_OK)
        return rc;
    if (tag != 0x04 || len != 32)
        return SIGIL_E_ENCODING;
    if ((rc = sigil_buf_get(&b, pk, 32)) != SIGIL_OK)
        return rc;
    return sigil_buf_end(&b);
}

static int read_pubkey(sigil_hsm *h, CK_SESSION_HANDLE s, const char *label, uint8_t pk[32])
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_EC_EDWARDS;
    CK_ATTRIBUTE q[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_OBJECT_HANDLE o;
    int rc = find_one(h, s, q, 3, &o);
    if (rc != SIGIL_OK)
        return rc;
    uint8_t pt[64];
    CK_ATTRIBUTE a = {CKA_EC_POINT, pt, sizeof(pt)};
    CK_RV rv = h->f->C_GetAttributeValue(s, o, &a, 1);
    if (rv != CKR_OK)
        return rv == CKR_BUFFER_TOO_SMALL ? SIGIL_E_ENCODING : rv_err(rv);
    return decode_ec_point(pt, a.ulValueLen, pk);
}

/* A signing key pair of an EC key type (Ed25519 or P-256) labelled label:
 * the private half sensitive, never extractable, not copyable or
 * modifiable, signing only. SIGIL_E_EXISTS if any object has the label. On
 * success *out is the session (the caller reads the public key and puts it
 * back). */
static int ec_keypair_new(sigil_hsm *h, const char *label, CK_KEY_TYPE type, const uint8_t *oid,
                          CK_ULONG oidlen, CK_MECHANISM_TYPE mt, CK_SESSION_HANDLE *out)
{
    CK_SESSION_HANDLE s;
    int rc = sess_get(h, &s);
    if (rc != SIGIL_OK)
        return rc;
    CK_ATTRIBUTE q[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE o, pub, priv;
    if ((rc = find_one(h, s, q, 1, &o)) != SIGIL_E_NOT_FOUND) {
        sess_put(h, s, 0);
        return rc == SIGIL_OK ? SIGIL_E_EXISTS : rc; /* any object: labels stay unique */
    }
    uint8_t id[16];
    randombytes_buf(id, sizeof(id));
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_KEY_TYPE kt = type;
    CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, privc = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE pubt[] = {
        {CKA_CLASS, &pubc, sizeof(pubc)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_EC_PARAMS, (void *)oid, oidlen},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, id, sizeof(id)},
        {CKA_TOKEN, &t, sizeof(t)},
        {CKA_PRIVATE, &f, sizeof(f)},
        {CKA_VERIFY, &t, sizeof(t)},
        {CKA_ENCRYPT, &f, sizeof(f)},
        {CKA_WRAP, &f, sizeof(f)},
        {CKA_DERIVE, &f, sizeof(f)},
        {CKA_MODIFIABLE, &f, sizeof(f)},
    };
    CK_ATTRIBUTE privt[] = {
        {CKA_CLASS, &privc, sizeof(privc)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, id, sizeof(id)},
        {CKA_TOKEN, &t, sizeof(t)},
        {CKA_PRIVATE, &t, sizeof(t)},
        {CKA_SENSITIVE, &t, sizeof(t)},
        {CKA_EXTRACTABLE, &f, sizeof(f)},
        {CKA_MODIFIABLE, &f, sizeof(f)},
        {CKA_COPYABLE, &f, sizeof(f)},
        {CKA_SIGN, &t, sizeof(t)},
        {CKA_DECRYPT, &f, sizeof(f)},
        {CKA_UNWRAP, &f, sizeof(f)},
        {CKA_DERIVE, &f, sizeof(f)},
    };
    CK_MECHANISM mech = {mt, NULL, 0};
    CK_RV rv = h->f->C_GenerateKeyPair(s, &mech, pubt, sizeof(pubt) / sizeof(pubt[0]), privt,
                                       sizeof(privt) / sizeof(privt[0]), &pub, &priv);
    if (rv != CKR_OK) {
        sess_put(h, s, 0);
        return rv_err(rv);
    }
    *out = s;
    return SIGIL_OK;
}

int sigil_hsm_create_ed25519(sigil_hsm *h, const char *label, uint8_t pk[32])
{
    if (!h || !label_ok(label) || !pk)
        return SIGIL_E_INVALID;
    CK_SESSION_HANDLE s;
    int rc = ec_keypair_new(h, label, CKK_EC_EDWARDS, ed25519_oid, sizeof(ed25519_oid),
                            CKM_EC_EDWARDS_KEY_PAIR_GEN, &s);
    if (rc != SIGIL_OK)
        return rc;
    rc = read_pubkey(h, s, label, pk);
    sess_put(h, s, 0);
    return rc;
}

/* ---------------------------------------------------------------- sealing */

/* The associated data: the blob header (magic, version, sealing-key id)
 * and the context it is bound to, each field fixed-width or
 * length-prefixed so that distinct contexts never encode alike. */
static int encode_ad(sigil_buf *b, const uint8_t seal_id[SEAL_KEY_ID_LEN], const sigil_hsm_ad *ad)
{
    int rc;
    if ((rc = sigil_buf_put(b, SEAL_MAGIC, 4)) != SIGIL_OK ||
        (rc = sigil_buf_put_u8(b, SEAL_VERSION)) != SIGIL_OK ||
        (rc = sigil_buf_put(b, seal_id, SEAL_KEY_ID_LEN)) != SIGIL_OK ||
        (rc = sigil_buf_put_string(b, ad->key_id, ad->key_id_len)) != SIGIL_OK ||
        (rc = sigil_buf_put_u32(b, ad->party)) != SIGIL_OK ||
        (rc = sigil_buf_put_u16(b, ad->scheme)) != SIGIL_OK ||
        (rc = sigil_buf_put_u32(b, ad->share_version)) != SIGIL_OK)
        return rc;
    return SIGIL_OK;
}

static int ad_ok(const sigil_hsm_ad *ad)
{
    return ad && ad->key_id && ad->key_id_len >= 1 && ad->key_id_len <= SIGIL_HSM_KEY_ID_MAX;
}

#define AD_MAX (4 + 1 + SEAL_KEY_ID_LEN + 4 + SIGIL_HSM_KEY_ID_MAX + 4 + 2 + 4)

/* Shrink b back to size, wiping what was appended after it. */
static void unappend(sigil_buf *b, size_t size)
{
    if (b->size > size)
        sodium_memzero(b->data + size, b->size - size);
    b->size = size;
}

static int seal_key(sigil_hsm *h, CK_OBJECT_HANDLE *k, uint8_t id[SEAL_KEY_ID_LEN])
{
    pthread_mutex_lock(&h->lock);
    int have = h->have_seal;
    *k = h->seal_key;
    memcpy(id, h->seal_id, SEAL_KEY_ID_LEN);
    pthread_mutex_unlock(&h->lock);
    return have ? SIGIL_OK : SIGIL_E_NOT_FOUND;
}

int sigil_hsm_seal(sigil_hsm *h, const sigil_hsm_ad *ad, const uint8_t *pt, size_t n,
                   sigil_buf *out)
{
    if (!h || !ad_ok(ad) || !pt || n == 0 || n > SIGIL_HSM_SHARE_MAX || !out ||
        (out->flags & SIGIL_BUF_READONLY))
        return SIGIL_E_INVALID;
    CK_OBJECT_HANDLE k;
    uint8_t sid[SEAL_KEY_ID_LEN];
    int rc = seal_key(h, &k, sid);
    if (rc != SIGIL_OK)
        return rc;

    uint8_t adbytes[AD_MAX], iv[SEAL_IV_LEN];
    sigil_buf adb;
    sigil_buf_view(&adb, NULL, 0);
    if ((rc = sigil_buf_init(&adb, AD_MAX, 0)) != SIGIL_OK || (rc = encode_ad(&adb, sid, ad)) != SIGIL_OK) {
        sigil_buf_free(&adb);
        return rc;
    }
    size_t adlen = sigil_buf_len(&adb);
    memcpy(adbytes, sigil_buf_ptr(&adb), adlen);
    sigil_buf_free(&adb);
    randombytes_buf(iv, sizeof(iv));

    size_t start = out->size, ctlen = n + SEAL_TAG_LEN;
    if ((rc = sigil_buf_put(out, SEAL_MAGIC, 4)) != SIGIL_OK ||
        (rc = sigil_buf_put_u8(out, SEAL_VERSION)) != SIGIL_OK ||
        (rc = sigil_buf_put(out, sid, sizeof(sid))) != SIGIL_OK ||
        (rc = sigil_buf_put(out, iv, sizeof(iv))) != SIGIL_OK ||
        (rc = sigil_buf_put_u32(out, (uint32_t)ctlen)) != SIGIL_OK) {
        unappend(out, start);
        return rc;
    }
    uint8_t *ct;
    if ((rc = sigil_buf_reserve(out, ctlen, &ct)) != SIGIL_OK) {
        unappend(out, start);
        return rc;
    }
    CK_SESSION_HANDLE s;
    if ((rc = sess_get(h, &s)) != SIGIL_OK) {
        unappend(out, start);
        return rc;
    }
    CK_GCM_PARAMS gcm = {iv, sizeof(iv), sizeof(iv) * 8, adbytes, adlen, SEAL_TAG_LEN * 8};
    CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof(gcm)};
    CK_RV rv = h->f->C_EncryptInit(s, &mech, k);
    CK_ULONG got = ctlen;
    if (rv == CKR_OK)
        rv = h->f->C_Encrypt(s, (CK_BYTE_PTR)pt, n, ct, &got);
    sess_put(h, s, sess_broken(rv));
    if (rv != CKR_OK || got != ctlen) {
        unappend(out, start);
        return rv != CKR_OK ? rv_err(rv) : SIGIL_E_CRYPTO;
    }
    return SIGIL_OK;
}

int sigil_hsm_unseal(sigil_hsm *h, const sigil_hsm_ad *ad, const uint8_t *blob, size_t len,
                     sigil_buf *out)
{
    if (!h || !ad_ok(ad) || (!blob && len) || !out || (out->flags & SIGIL_BUF_READONLY) ||
        !(out->flags & SIGIL_BUF_SECRET))
        return SIGIL_E_INVALID;
    sigil_buf b;
    sigil_buf_view(&b, blob, len);
    const uint8_t *magic, *sid, *iv, *ct;
    uint8_t version;
    uint32_t ctlen;
    int rc;
    if ((rc = sigil_buf_get_ptr(&b, 4, &magic)) != SIGIL_OK)
        return rc;
    if (memcmp(magic, SEAL_MAGIC, 4) != 0)
        return SIGIL_E_ENCODING;
    if ((rc = sigil_buf_get_u8(&b, &version)) != SIGIL_OK)
        return rc;
    if (version != SEAL_VERSION)
        return SIGIL_E_VERSION;
    if ((rc = sigil_buf_get_ptr(&b, SEAL_KEY_ID_LEN, &sid)) != SIGIL_OK ||
        (rc = sigil_buf_get_ptr(&b, SEAL_IV_LEN, &iv)) != SIGIL_OK ||
        (rc = sigil_buf_get_u32(&b, &ctlen)) != SIGIL_OK)
        return rc;
    if (ctlen <= SEAL_TAG_LEN)
        return SIGIL_E_ENCODING;
    if (ctlen > SIGIL_HSM_SHARE_MAX + SEAL_TAG_LEN)
        return SIGIL_E_TOO_LARGE;
    if ((rc = sigil_buf_get_ptr(&b, ctlen, &ct)) != SIGIL_OK)
        return rc;
    if ((rc = sigil_buf_end(&b)) != SIGIL_OK)
        return rc;

    CK_OBJECT_HANDLE k;
    uint8_t my_sid[SEAL_KEY_ID_LEN];
    if ((rc = seal_key(h, &k, my_sid)) != SIGIL_OK)
        return rc;
    if (!sigil_memeq(sid, my_sid, SEAL_KEY_ID_LEN))
        return SIGIL_E_NOT_FOUND; /* sealed under another token's key */

    uint8_t adbytes[AD_MAX];
    sigil_buf adb;
    if ((rc = sigil_buf_init(&adb, AD_MAX, 0)) != SIGIL_OK)
        return rc;
    if ((rc = encode_ad(&adb, my_sid, ad)) != SIGIL_OK) {
        sigil_buf_free(&adb);
        return rc;
    }
    size_t adlen = sigil_buf_len(&adb);
    memcpy(adbytes, sigil_buf_ptr(&adb), adlen);
    sigil_buf_free(&adb);

    /* The module may want room for the whole ciphertext before it knows the
     * tag is good; give it that much secure memory, then trim. */
    size_t start = out->size, ptlen = ctlen - SEAL_TAG_LEN;
    uint8_t *pt;
    if ((rc = sigil_buf_reserve(out, ctlen, &pt)) != SIGIL_OK)
        return rc;
    CK_SESSION_HANDLE s;
    if ((rc = sess_get(h, &s)) != SIGIL_OK) {
        unappend(out, start);
        return rc;
    }
    CK_GCM_PARAMS gcm = {(CK_BYTE_PTR)iv, SEAL_IV_LEN, SEAL_IV_LEN * 8, adbytes, adlen,
                         SEAL_TAG_LEN * 8};
    CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof(gcm)};
    CK_RV rv = h->f->C_DecryptInit(s, &mech, k);
    if (rv != CKR_OK) {
        sess_put(h, s, sess_broken(rv));
        unappend(out, start);
        return rv_err(rv);
    }
    CK_ULONG got = ctlen;
    rv = h->f->C_Decrypt(s, (CK_BYTE_PTR)ct, ctlen, pt, &got);
    sess_put(h, s, sess_broken(rv));
    if (rv != CKR_OK || got != ptlen) {
        unappend(out, start);
        /* A failed authentication is an unseal failure, whatever code the
         * module picked for it (SoftHSM: CKR_GENERAL_ERROR). */
        return rv == CKR_OK || rv_err(rv) == SIGIL_E_CRYPTO ? SIGIL_E_UNSEAL : rv_err(rv);
    }
    unappend(out, start + ptlen);
    return SIGIL_OK;
}

/* ---------------------------------------------------------------- Ed25519 */

/* Private key handle and public key for label, cached after first use. */
static int ed_lookup(sigil_hsm *h, CK_SESSION_HANDLE s, const char *label, CK_OBJECT_HANDLE *priv,
                     uint8_t pk[32])
{
    pthread_mutex_lock(&h->lock);
    for (unsigned i = 0; i < h->n_ed; i++)
        if (!strcmp(h->ed[i].label, label)) {
            *priv = h->ed[i].priv;
            memcpy(pk, h->ed[i].pk, 32);
            pthread_mutex_unlock(&h->lock);
            return SIGIL_OK;
        }
    pthread_mutex_unlock(&h->lock);

    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC_EDWARDS;
    CK_ATTRIBUTE q[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    int rc = find_one(h, s, q, 3, priv);
    if (rc != SIGIL_OK)
        return rc;
    CK_BBOOL sens = 0, extr = 1;
    CK_ATTRIBUTE a[] = {
        {CKA_SENSITIVE, &sens, sizeof(sens)},
        {CKA_EXTRACTABLE, &extr, sizeof(extr)},
    };
    CK_RV rv = h->f->C_GetAttributeValue(s, *priv, a, 2);
    if (rv != CKR_OK)
        return rv_err(rv);
    if (!sens || extr)
        return SIGIL_E_PERMISSION;
    if ((rc = read_pubkey(h, s, label, pk)) != SIGIL_OK)
        return rc;
    pthread_mutex_lock(&h->lock);
    if (h->n_ed < ED_CACHE) {
        strcpy(h->ed[h->n_ed].label, label);
        h->ed[h->n_ed].priv = *priv;
        memcpy(h->ed[h->n_ed].pk, pk, 32);
        h->n_ed++;
    }
    pthread_mutex_unlock(&h->lock);
    return SIGIL_OK;
}

int sigil_hsm_ed25519_pubkey(sigil_hsm *h, const char *label, uint8_t pk[32])
{
    if (!h || !label_ok(label) || !pk)
        return SIGIL_E_INVALID;
    CK_SESSION_HANDLE s;
    int rc = sess_get(h, &s);
    if (rc != SIGIL_OK)
        return rc;
    CK_OBJECT_HANDLE priv;
    rc = ed_lookup(h, s, label, &priv, pk);
    sess_put(h, s, 0);
    return rc;
}

int sigil_hsm_sign_ed25519(sigil_hsm *h, const char *label, const uint8_t *msg, size_t n,
                           uint8_t sig[64])
{
    if (!h || !label_ok(label) || (!msg && n) || n > SIGIL_BUF_MAX_LIMIT || !sig)
        return SIGIL_E_INVALID;
    CK_SESSION_HANDLE s;
    int rc = sess_get(h, &s);
    if (rc != SIGIL_OK)
        return rc;
    CK_OBJECT_HANDLE priv;
    uint8_t pk[32];
    if ((rc = ed_lookup(h, s, label, &priv, pk)) != SIGIL_OK) {
        sess_put(h, s, 0);
        return rc;
    }
    CK_MECHANISM mech = {CKM_EDDSA, NULL, 0};
    CK_RV rv = h->f->C_SignInit(s, &mech, priv);
    CK_ULONG got = 64;
    uint8_t empty = 0;
    if (rv == CKR_OK)
        rv = h->f->C_Sign(s, msg ? (CK_BYTE_PTR)msg : &empty, n, sig, &got);
    sess_put(h, s, sess_broken(rv));
    if (rv != CKR_OK || got != 64) {
        sodium_memzero(sig, 64);
        return rv != CKR_OK ? rv_err(rv) : SIGIL_E_CRYPTO;
    }
    /* Never release a signature the public key does not verify. */
    if (crypto_sign_verify_detached(sig, msg ? msg : &empty, n, pk) != 0) {
        sodium_memzero(sig, 64);
        return SIGIL_E_SIGNATURE;
    }
    return SIGIL_OK;
}

/* ------------------------------------------- RSA-OAEP officer backup keys */

int sigil_hsm_create_rsa(sigil_hsm *h, const char *label, unsigned bits)
{
    if (!h || !label_ok(label) || bits < 2048 || bits > 4096)
        return SIGIL_E_INVALID;
    CK_SESSION_HANDLE s;
    int rc = sess_get(h, &s);
    if (rc != SIGIL_OK)
        return rc;
    CK_ATTRIBUTE q[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE o, pub, priv;
    if ((rc = find_one(h, s, q, 1, &o)) != SIGIL_E_NOT_FOUND) {
        sess_put(h, s, 0);
        return rc == SIGIL_OK ? SIGIL_E_EXISTS : rc;
    }
    uint8_t id[16], e[3] = {1, 0, 1};
    randombytes_buf(id, sizeof(id));
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ULONG mbits = bits;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, privc = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE pubt[] = {
        {CKA_CLASS, &pubc, sizeof(pubc)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_MODULUS_BITS, &mbits, sizeof(mbits)},
        {CKA_PUBLIC_EXPONENT, e, sizeof(e)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, id, sizeof(id)},
        {CKA_TOKEN, &t, sizeof(t)},
        {CKA_PRIVATE, &f, sizeof(f)},
        {CKA_ENCRYPT, &t, sizeof(t)},
        {CKA_VERIFY, &f, sizeof(f)},
        {CKA_WRAP, &f, sizeof(f)},
        {CKA_MODIFIABLE, &f, sizeof(f)},
    };
    CK_ATTRIBUTE privt[] = {
        {CKA_CLASS, &privc, sizeof(privc)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, id, sizeof(id)},
        {CKA_TOKEN, &t, sizeof(t)},
        {CKA_PRIVATE, &t, sizeof(t)},
        {CKA_SENSITIVE, &t, sizeof(t)},
        {CKA_EXTRACTABLE, &f, sizeof(f)},
        {CKA_MODIFIABLE, &f, sizeof(f)},
        {CKA_COPYABLE, &f, sizeof(f)},
        {CKA_DECRYPT, &t, sizeof(t)},
        {CKA_SIGN, &f, sizeof(f)},
        {CKA_UNWRAP, &f, sizeof(f)},
        {CKA_DERIVE, &f, sizeof(f)},
    };
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_RV rv = h->f->C_GenerateKeyPair(s, &mech, pubt, sizeof(pubt) / sizeof(pubt[0]), privt,
                                       sizeof(privt) / sizeof(privt[0]), &pub, &priv);
    sess_put(h, s, 0);
    return rv == CKR_OK ? SIGIL_OK : rv_err(rv);
}

static int rsa_find(sigil_hsm *h, CK_SESSION_HANDLE s, const char *label, CK_OBJECT_CLASS cls,
                    CK_OBJECT_HANDLE *o)
{
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE q[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    return find_one(h, s, q, 3, o);
}

int sigil_hsm_rsa_pubkey(sigil_hsm *h, const char *label, uint8_t *mod, size_t *modlen,
                         uint8_t *exp, size_t *explen)
{
    if (!h || !label_ok(label) || !mod || !modlen || !exp || !explen)
        return SIGIL_E_INVALID;
    CK_SESSION_HANDLE s;
    int rc = sess_get(h, &s);
    if (rc != SIGIL_OK)
        return rc;
    CK_OBJECT_HANDLE o;
    if ((rc = rsa_find(h, s, label, CKO_PUBLIC_KEY, &o)) == SIGIL_OK) {
        CK_ATTRIBUTE a[] = {{CKA_MODULUS, mod, *modlen}, {CKA_PUBLIC_EXPONENT, exp, *explen}};
        CK_RV rv = h->f->C_GetAttributeValue(s, o, a, 2);
        if (rv != CKR_OK)
            rc = rv == CKR_BUFFER_TOO_SMALL ? SIGIL_E_TOO_LARGE : rv_err(rv);
        else {
            *modlen = a[0].ulValueLen;
            *explen = a[1].ulValueLen;
        }
    }
    sess_put(h, s, 0);
    return rc;
}

int sigil_hsm_rsa_oaep_decrypt(sigil_hsm *h, const char *label, const uint8_t *c, size_t n,
                               sigil_buf *out)
{
    if (!h || !label_ok(label) || !c || !n || n > 512 || !out || !(out->flags & SIGIL_BUF_SECRET))
        return SIGIL_E_INVALID;
    CK_SESSION_HANDLE s;
    int rc = sess_get(h, &s);
    if (rc != SIGIL_OK)
        return rc;
    CK_OBJECT_HANDLE priv;
    if ((rc = rsa_find(h, s, label, CKO_PRIVATE_KEY, &priv)) != SIGIL_OK) {
        sess_put(h, s, 0);
        return rc;
    }
    /* SoftHSM 2.6 implements OAEP with SHA-1 only (MGF1-SHA-1); OAEP's
     * security does not rest on SHA-1's collision resistance */
    CK_RSA_PKCS_OAEP_PARAMS prm = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
    CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &prm, sizeof(prm)};
    size_t before = out->size;
    uint8_t *dst;
    if ((rc = sigil_buf_reserve(out, n, &dst)) != SIGIL_OK) {
        sess_put(h, s, 0);
        return rc;
    }
    CK_ULONG got = n;
    CK_RV rv = h->f->C_DecryptInit(s, &mech, priv);
    if (rv == CKR_OK)
        rv = h->f->C_Decrypt(s, (CK_BYTE_PTR)c, n, dst, &got);
    sess_put(h, s, sess_broken(rv));
    if (rv != CKR_OK || got > n) {
        sodium_memzero(dst, n);
        out->size = before;
        return rv == CKR_OK ? SIGIL_E_CRYPTO : SIGIL_E_UNSEAL;
    }
    sodium_memzero(dst + got, n - got);
    out->size = before + got;
    return SIGIL_OK;
}

/* ------------------------------------------- P-256 ECDSA (the cluster CA) */

/* DER of the OID 1.2.840.10045.3.1.7 (prime256v1 / P-256, RFC 5480). */
static const uint8_t p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/* The private (cls CKO_PRIVATE_KEY) or public P-256 key labelled label. */
static int p256_find(sigil_hsm *h, CK_SESSION_HANDLE s, const char *label, CK_OBJECT_CLASS cls,
                     CK_OBJECT_HANDLE *o)
{
    CK_KEY_TYPE kt = CKK_EC;
    CK_ATTRIBUTE q[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid)},
    };
    return find_one(h, s, q, 4, o);
}

/* CKA_EC_POINT of the public key: a DER OCTET STRING (04 41 || 04 X Y, what
 * SoftHSM stores), or the raw 65-byte point (PKCS#11 3.0 allows it). Only an
 * uncompressed point is accepted. */
static int p256_read_pub(sigil_hsm *h, CK_SESSION_HANDLE s, const char *label, uint8_t pk[65])
{
    CK_OBJECT_HANDLE o;
    int rc = p256_find(h, s, label, CKO_PUBLIC_KEY, &o);
    if (rc != SIGIL_OK)
        return rc;
    uint8_t pt[80];
    CK_ATTRIBUTE a = {CKA_EC_POINT, pt, sizeof(pt)};
    CK_RV rv = h->f->C_GetAttributeValue(s, o, &a, 1);
    if (rv != CKR_OK)
        return rv == CKR_BUFFER_TOO_SMALL ? SIGIL_E_ENCODING : rv_err(rv);
    sigil_buf b;
    sigil_buf_view(&b, pt, a.ulValueLen);
    if (a.ulValueLen == 67) {
        uint8_t tag, len;
        if ((rc = sigil_buf_get_u8(&b, &tag)) != SIGIL_OK ||
            (rc = sigil_buf_get_u8(&b, &len)) != SIGIL_OK)
            return rc;
        if (tag != 0x04 || len != 65)
            return SIGIL_E_ENCODING;
    } else if (a.ulValueLen != 65)
        return SIGIL_E_ENCODING;
    if ((rc = sigil_buf_get(&b, pk, 65)) != SIGIL_OK)
        return rc;
    if (pk[0] != 0x04)
        return SIGIL_E_ENCODING;
    return sigil_buf_end(&b);
}

int sigil_hsm_create_p256(sigil_hsm *h, const char *label, uint8_t pk[SIGIL_HSM_P256_PK_LEN])
{
    if (!h || !label_ok(label) || !pk)
        return SIGIL_E_INVALID;
    CK_SESSION_HANDLE s;
    int rc = ec_keypair_new(h, label, CKK_EC, p256_oid, sizeof(p256_oid), CKM_EC_KEY_PAIR_GEN, &s);
    if (rc != SIGIL_OK)
        return rc;
    rc = p256_read_pub(h, s, label, pk);
    sess_put(h, s, 0);
    return rc;
}

int sigil_hsm_p256_pubkey(sigil_hsm *h, const char *label, uint8_t pk[SIGIL_HSM_P256_PK_LEN])
{
    if (!h || !label_ok(label) || !pk)
        return SIGIL_E_INVALID;
    CK_SESSION_HANDLE s;
    int rc = sess_get(h, &s);
    if (rc != SIGIL_OK)
        return rc;
    rc = p256_read_pub(h, s, label, pk);
    sess_put(h, s, 0);
    return rc;
}

int sigil_hsm_sign_p256(sigil_hsm *h, const char *label, const uint8_t digest[32],
                        uint8_t sig[SIGIL_HSM_P256_SIG_LEN])
{
    if (!h || !label_ok(label) || !digest || !sig)
        return SIGIL_E_INVALID;
    CK_SESSION_HANDLE s;
    int rc = sess_get(h, &s);
    if (rc != SIGIL_OK)
        return rc;
    CK_OBJECT_HANDLE priv;
    if ((rc = p256_find(h, s, label, CKO_PRIVATE_KEY, &priv)) != SIGIL_OK) {
        sess_put(h, s, 0);
        return rc;
    }
    /* refuse a key that is not protected as this library makes them */
    CK_BBOOL sens = 0, extr = 1;
    CK_ATTRIBUTE a[] = {
        {CKA_SENSITIVE, &sens, sizeof(sens)},
        {CKA_EXTRACTABLE, &extr, sizeof(extr)},
    };
    CK_RV rv = h->f->C_GetAttributeValue(s, priv, a, 2);
    if (rv != CKR_OK || !sens || extr) {
        sess_put(h, s, 0);
        return rv != CKR_OK ? rv_err(rv) : SIGIL_E_PERMISSION;
    }
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    rv = h->f->C_SignInit(s, &mech, priv);
    CK_ULONG got = SIGIL_HSM_P256_SIG_LEN;
    if (rv == CKR_OK)
        rv = h->f->C_Sign(s, (CK_BYTE_PTR)digest, 32, sig, &got);
    sess_put(h, s, sess_broken(rv));
    if (rv != CKR_OK || got != SIGIL_HSM_P256_SIG_LEN) {
        sodium_memzero(sig, SIGIL_HSM_P256_SIG_LEN);
        return rv != CKR_OK ? rv_err(rv) : SIGIL_E_CRYPTO;
    }
    return SIGIL_OK;
}
