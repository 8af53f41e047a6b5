/* sigil-node: the signer node daemon (one share per key, sealed in the HSM;
 * FROST DKG and signing from a nonce pool; end-to-end envelopes; circuit
 * breaker). See docs/modules/signer-node.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "node.h"
#include "sigil/audit.h"
#include "sigil/audit_hsm.h"
#include "sigil/breaker.h"
#include "sigil/dkg.h"
#include "sigil/ecdsa.h"
#include "sigil/envelope.h"
#include "sigil/err.h"
#include "sigil/file.h"
#include "sigil/frost.h"
#include "sigil/group.h"
#include "sigil/hsm.h"
#include "sigil/rpc.h"
#include "sigil/v1/admin.pb-c.h"
#include "sigil/v1/common.pb-c.h"
#include "sigil/v1/node.pb-c.h"

#define NODE_VERSION "sigil-node 0.1"
/* Presignatures per PRESIGN session: each DKLs23 pairwise message is
 * ~25 KB, and one envelope body carries `count` of them (<= 1 MiB). Run
 * several sessions (in parallel) for more. */
#define PRESIGN_MAX_COUNT 16

static int presig_evict_oldest(keyrec *k, size_t keep, size_t *dropped);

/* the state types (keyrec, session, node, outbox) are in node.h */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


/* ---- seen session ids ---- */

static uint64_t sid_hash(const uint8_t *sid)
{
    uint64_t h;
    memcpy(&h, sid, 8);
    return h ^ (h >> 29);
}

static int seen_has(const node *nd, const uint8_t *sid)
{
    if (!nd->capseen)
        return 0;
    size_t m = nd->capseen - 1;
    for (size_t i = sid_hash(sid) & m;; i = (i + 1) & m) {
        if (!nd->used[i])
            return 0;
        if (memcmp(nd->seen[i], sid, 32) == 0)
            return 1;
    }
}

static int seen_insert_mem(node *nd, const uint8_t *sid)
{
    if ((nd->nseen + 1) * 2 > nd->capseen) {
        size_t nc = nd->capseen ? nd->capseen * 2 : 1024;
        uint8_t (*ns)[32] = calloc(nc, 32);
        uint8_t *nu = calloc(nc, 1);
        if (!ns || !nu) {
            free(ns);
            free(nu);
            return SIGIL_E_NOMEM;
        }
        for (size_t i = 0; i < nd->capseen; i++)
            if (nd->used[i]) {
                size_t j = sid_hash(nd->seen[i]) & (nc - 1);
                while (nu[j])
                    j = (j + 1) & (nc - 1);
                memcpy(ns[j], nd->seen[i], 32);
                nu[j] = 1;
            }
        free(nd->seen);
        free(nd->used);
        nd->seen = ns;
        nd->used = nu;
        nd->capseen = nc;
    }
    size_t m = nd->capseen - 1, i = sid_hash(sid) & m;
    while (nd->used[i])
        i = (i + 1) & m;
    memcpy(nd->seen[i], sid, 32);
    nd->used[i] = 1;
    nd->nseen++;
    return SIGIL_OK;
}

/* Record a session id before the session does anything. The record is
 * written (O_APPEND) before we go on; fsync'ed when durable is set (DKG,
 * which would otherwise let a restarted node rerun a key generation).
 * SIGN sessions consume pool entries that do not survive a restart, so a
 * crash losing their record cannot lead to nonce reuse. */
int seen_record(node *nd, const uint8_t *sid, int durable)
{
    if (seen_has(nd, sid))
        return SIGIL_E_REPLAY;
    ssize_t w = write(nd->seen_fd, sid, 32);
    if (w != 32)
        return SIGIL_E_IO;
    if (durable && fdatasync(nd->seen_fd) != 0)
        return SIGIL_E_IO;
    return seen_insert_mem(nd, sid);
}

static int seen_load(node *nd)
{
    sigil_buf b;
    int rc = sigil_buf_init(&b, SIGIL_BUF_MAX_LIMIT, 0);
    if (rc)
        return rc;
    rc = sigil_file_read(nd->path_seen, SIGIL_BUF_MAX_LIMIT, &b);
    if (rc == SIGIL_E_NOT_FOUND)
        rc = SIGIL_OK;
    /* a torn last record (crash mid-write) is dropped; the ids are random */
    for (size_t off = 0; !rc && off + 32 <= b.size; off += 32)
        rc = seen_insert_mem(nd, b.data + off);
    size_t whole = b.size - b.size % 32;
    sigil_buf_free(&b);
    if (rc)
        return rc;
    nd->seen_fd = open(nd->path_seen, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (nd->seen_fd < 0)
        return SIGIL_E_IO;
    if (ftruncate(nd->seen_fd, (off_t)whole) != 0)
        return SIGIL_E_IO;
    return SIGIL_OK;
}

/* ---- halted state: u8 version=1 | u8 halted | u64 epoch | u64 at_ms |
 *      string by | string reason ---- */

static int halt_save(node *nd)
{
    sigil_buf b;
    int rc = sigil_buf_init(&b, 1024, 0);
    if (!rc) rc = sigil_buf_put_u8(&b, 1);
    if (!rc) rc = sigil_buf_put_u8(&b, (uint8_t)atomic_load(&nd->halted));
    if (!rc) rc = sigil_buf_put_u64(&b, nd->epoch);
    if (!rc) rc = sigil_buf_put_u64(&b, nd->halted_at_ms);
    if (!rc) rc = sigil_buf_put_string(&b, nd->halted_by, strlen(nd->halted_by));
    if (!rc) rc = sigil_buf_put_string(&b, nd->reason, strlen(nd->reason));
    if (!rc) rc = sigil_file_write_atomic(nd->path_halt, b.data, b.size, 0600);
    sigil_buf_free(&b);
    return rc;
}

static int get_cstr(sigil_buf *b, char *dst, size_t cap)
{
    const uint8_t *p;
    size_t n;
    int rc = sigil_buf_get_string(b, cap - 1, &p, &n);
    if (rc)
        return rc;
    if (memchr(p, 0, n))
        return SIGIL_E_ENCODING;
    memcpy(dst, p, n);
    dst[n] = 0;
    return SIGIL_OK;
}

static int halt_load(node *nd)
{
    sigil_buf b;
    int rc = sigil_buf_init(&b, 4096, 0);
    if (rc)
        return rc;
    rc = sigil_file_read(nd->path_halt, 4096, &b);
    if (rc == SIGIL_E_NOT_FOUND) {
        sigil_buf_free(&b);
        return SIGIL_OK;
    }
    uint8_t ver = 0, h = 0;
    if (!rc) rc = sigil_buf_get_u8(&b, &ver);
    if (!rc && ver != 1) rc = SIGIL_E_VERSION;
    if (!rc) rc = sigil_buf_get_u8(&b, &h);
    if (!rc && h > 1) rc = SIGIL_E_ENCODING;
    if (!rc) rc = sigil_buf_get_u64(&b, &nd->epoch);
    if (!rc) rc = sigil_buf_get_u64(&b, &nd->halted_at_ms);
    if (!rc) rc = get_cstr(&b, nd->halted_by, sizeof nd->halted_by);
    if (!rc) rc = get_cstr(&b, nd->reason, sizeof nd->reason);
    if (!rc) rc = sigil_buf_end(&b);
    sigil_buf_free(&b);
    /* an unreadable breaker file leaves the node halted (fail closed) */
    atomic_store(&nd->halted, rc ? 1 : (int)h);
    if (rc)
        snprintf(nd->reason, sizeof nd->reason, "breaker state file unreadable: %s",
                 sigil_errname(rc));
    return SIGIL_OK;
}

/* ---- boot counter (pool entry ids never repeat across restarts) ---- */

static int boot_next(node *nd)
{
    char path[NODE_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/boot", nd->cfg.state_dir);
    sigil_buf b;
    int rc = sigil_buf_init(&b, 16, 0);
    if (rc)
        return rc;
    uint32_t v = 0;
    rc = sigil_file_read(path, 16, &b);
    if (rc == SIGIL_E_NOT_FOUND)
        rc = SIGIL_OK;
    else if (!rc) {
        rc = sigil_buf_get_u32(&b, &v);
        if (!rc) rc = sigil_buf_end(&b);
    }
    sigil_buf_free(&b);
    if (rc)
        return rc;
    if (v == UINT32_MAX)
        return SIGIL_E_TOO_LARGE;
    v++;
    uint8_t o[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    rc = sigil_file_write_atomic(path, o, 4, 0600);
    if (!rc)
        nd->boot = v;
    return rc;
}

/* ---- keys: state_dir/keys/<key_id>.key =
 *   "SGNK" | u8 1 | u16 scheme | u32 party | u32 version | string key_id |
 *   string public package | string sealed share ---- */

keyrec *key_find(node *nd, const char *key_id)
{
    for (keyrec *k = nd->keys; k; k = k->next)
        if (!strcmp(k->key_id, key_id))
            return k;
    return NULL;
}

void key_free(keyrec *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->npool; i++)
        sigil_frost_nonce_free(k->pool[i].nonce);
    free(k->pool);
    free(k->hid);
    free(k->hpos);
    for (size_t i = 0; i < k->nps; i++)
        sigil_ecdsa_presig_free(k->ps[i].ps);
    free(k->ps);
    sigil_keyshare_free(&k->pub);
    free(k->blob);
    free(k);
}

int key_from_bytes(const uint8_t *p, size_t n, keyrec **out)
{
    sigil_buf b;
    sigil_buf_view(&b, p, n);
    keyrec *k = calloc(1, sizeof *k);
    if (!k)
        return SIGIL_E_NOMEM;
    const uint8_t *magic, *pkg, *blob;
    size_t pkglen, bloblen;
    uint8_t ver;
    int rc = sigil_buf_get_ptr(&b, 4, &magic);
    if (!rc && memcmp(magic, "SGNK", 4)) rc = SIGIL_E_ENCODING;
    if (!rc) rc = sigil_buf_get_u8(&b, &ver);
    if (!rc && ver != 1) rc = SIGIL_E_VERSION;
    if (!rc) rc = sigil_buf_get_u16(&b, &k->scheme);
    if (!rc && (k->scheme < 1 || k->scheme > 4)) rc = SIGIL_E_VERSION;
    if (!rc) rc = sigil_buf_get_u32(&b, &k->party);
    if (!rc) rc = sigil_buf_get_u32(&b, &k->version);
    if (!rc) rc = get_cstr(&b, k->key_id, sizeof k->key_id);
    if (!rc) rc = sigil_rpc_key_id_check(k->key_id);
    if (!rc) rc = sigil_buf_get_string(&b, SIGIL_HSM_SHARE_MAX, &pkg, &pkglen);
    if (!rc) rc = sigil_buf_get_string(&b, SIGIL_HSM_SHARE_MAX + SIGIL_HSM_SEAL_OVERHEAD, &blob, &bloblen);
    if (!rc) rc = sigil_buf_end(&b);
    if (!rc) {
        sigil_buf pb;
        sigil_buf_view(&pb, pkg, pkglen);
        rc = sigil_keyshare_parse(&pb, &k->pub);
        if (!rc && k->pub.secret) rc = SIGIL_E_ENCODING;
        crypto_hash_sha256(k->pkg_hash, pkg, pkglen);
    }
    if (!rc && k->scheme == SIGIL_ENV_SCHEME_ECDSA) {
        if (sigil_group_point_len(k->pub.g) != 33)
            rc = SIGIL_E_MISMATCH;
        else
            sigil_point_serialize(k->pub.g, k->pk, &k->pub.group_pk);
    } else if (!rc) {
        rc = sigil_frost_public_key((sigil_frost_suite)k->scheme, &k->pub, k->pk);
    }
    if (!rc) {
        k->pklen = k->scheme == SIGIL_ENV_SCHEME_ECDSA ? 33 : sigil_frost_pk_len((sigil_frost_suite)k->scheme);
        k->blob = malloc(bloblen);
        if (!k->blob)
            rc = SIGIL_E_NOMEM;
        else {
            memcpy(k->blob, blob, bloblen);
            k->bloblen = bloblen;
        }
    }
    if (rc) {
        key_free(k);
        return rc;
    }
    *out = k;
    return SIGIL_OK;
}

static int keys_load(node *nd)
{
    DIR *d = opendir(nd->path_keys);
    if (!d)
        return SIGIL_E_IO;
    struct dirent *e;
    int rc = SIGIL_OK;
    while (!rc && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l < 5 || strcmp(e->d_name + l - 4, ".key"))
            continue;
        char path[NODE_PATH_MAX + 128];
        int pl = snprintf(path, sizeof path, "%s/%s", nd->path_keys, e->d_name);
        if (pl < 0 || (size_t)pl >= sizeof path) {
            fprintf(stderr, "sigil-node: key file name too long in %s\n", nd->path_keys);
            rc = SIGIL_E_TOO_LARGE;
            break;
        }
        sigil_buf b;
        rc = sigil_buf_init(&b, 4 * SIGIL_HSM_SHARE_MAX, 0);
        if (!rc) rc = sigil_file_read(path, 4 * SIGIL_HSM_SHARE_MAX, &b);
        keyrec *k = NULL;
        if (!rc) rc = key_from_bytes(b.data, b.size, &k);
        sigil_buf_free(&b);
        if (rc) {
            fprintf(stderr, "sigil-node: key file %s: %s\n", path, sigil_errname(rc));
            break;
        }
        if (k->party != nd->cfg.node_id || key_find(nd, k->key_id)) {
            fprintf(stderr, "sigil-node: key file %s: wrong party or duplicate key\n", path);
            key_free(k);
            rc = SIGIL_E_MISMATCH;
            break;
        }
        k->next = nd->keys;
        nd->keys = k;
    }
    closedir(d);
    return rc;
}

void ad_for(const keyrec *k, sigil_hsm_ad *ad)
{
    ad->key_id = (const uint8_t *)k->key_id;
    ad->key_id_len = strlen(k->key_id);
    ad->party = k->party;
    ad->scheme = k->scheme;
    ad->share_version = k->version;
}

/* FROST sealed plaintext: see FROST_SEALED_LEN in node.h. */

/* Unseal into the given secure buffer and scalar slot. */
int key_unseal_into(node *nd, const keyrec *k, sigil_buf *buf, sigil_scalar *slot,
                           sigil_keyshare *out)
{
    sigil_hsm_ad ad;
    ad_for(k, &ad);
    memset(out, 0, sizeof *out);
    sigil_buf_reset(buf);
    int rc = sigil_hsm_unseal(nd->hsm, &ad, k->blob, k->bloblen, buf);
    if (!rc && (buf->size != FROST_SEALED_LEN || buf->data[0] != 1 ||
                memcmp(buf->data + 33, k->pkg_hash, 32) != 0))
        rc = SIGIL_E_MISMATCH;
    if (!rc) rc = sigil_scalar_parse(k->pub.g, slot, buf->data + 1);
    sigil_buf_reset(buf);
    if (rc) {
        sodium_memzero(slot, sizeof *slot);
        return rc;
    }
    *out = k->pub; /* shallow: the arrays stay k->pub's */
    out->secret = slot;
    return SIGIL_OK;
}

/* A free unseal slot (callers hold nd->mu); NULL if every one is taken,
 * which cannot happen while there are as many slots as handler threads. */
static unseal_slot *slot_take(node *nd)
{
    for (size_t i = 0; i < nd->nslots; i++)
        if (!nd->slots[i].busy) {
            nd->slots[i].busy = 1;
            return &nd->slots[i];
        }
    return NULL;
}

/* Return a slot (callers hold nd->mu); its secret is zeroized first. */
static void slot_put(node *nd, unseal_slot *sl)
{
    (void)nd;
    if (!sl)
        return;
    sodium_memzero(sl->secret, sizeof *sl->secret);
    sigil_buf_reset(&sl->buf);
    sl->busy = 0;
}

/* ---------------------------------------------------------------- audit */

static int audit_add(audit_batch *ab, size_t cap, const node *nd, sigil_rpc_call *call, const keyrec *k,
                     const uint8_t *sid, const uint32_t *parties, size_t np, const uint8_t *msg,
                     size_t mlen, const uint8_t *share, size_t slen)
{
    if (!ab->e) {
        ab->e = calloc(cap, sizeof *ab->e);
        if (!ab->e)
            return SIGIL_E_NOMEM;
    }
    if (ab->n >= cap || np > SIGIL_AUDIT_SIGNERS_MAX)
        return SIGIL_E_INVALID;
    sigil_audit_entry *e = &ab->e[ab->n];
    memset(e, 0, sizeof *e);
    e->version = SIGIL_AUDIT_ENTRY_VERSION;
    e->type = SIGIL_AUDIT_SHARE;
    e->party = (uint16_t)nd->cfg.node_id;
    size_t al = strlen(call->peer->uri);
    e->actor_len = (uint8_t)(al > SIGIL_AUDIT_ACTOR_MAX ? SIGIL_AUDIT_ACTOR_MAX : al);
    memcpy(e->actor, call->peer->uri, e->actor_len);
    e->key_id_len = (uint8_t)strlen(k->key_id);
    memcpy(e->key_id, k->key_id, e->key_id_len);
    e->scheme = (uint8_t)k->scheme;
    /* digest: the 32-byte digest signed, or SHA-256 of the message */
    e->digest_len = 32;
    if (mlen == 32 && k->scheme >= SIGIL_ENV_SCHEME_BIP340)
        memcpy(e->digest, msg, 32);
    else
        crypto_hash_sha256(e->digest, msg, mlen);
    e->outcome = SIGIL_AUDIT_OUTCOME_SIGNATURE;
    if (slen <= SIGIL_AUDIT_SIG_MAX) {
        memcpy(e->sig, share, slen);
        e->sig_len = (uint8_t)slen;
    } else {
        crypto_hash_sha256(e->sig, share, slen);
        e->sig_len = 32;
    }
    e->n_signers = (uint8_t)np;
    for (size_t i = 0; i < np; i++)
        e->signers[i] = (uint16_t)parties[i];
    /* request id: the session id in hex */
    sodium_bin2hex(e->request_id, sizeof e->request_id, sid, 32);
    e->request_id_len = 64;
    ab->n++;
    return SIGIL_OK;
}

/* ------------------------------------------------------------- envelopes */

int outbox_init(outbox *o, size_t cap)
{
    memset(o, 0, sizeof *o);
    o->env = calloc(cap ? cap : 1, sizeof *o->env);
    o->ptr = calloc(cap ? cap : 1, sizeof *o->ptr);
    o->pay = calloc(cap ? cap : 1, sizeof *o->pay);
    o->cap = cap;
    return o->env && o->ptr && o->pay ? SIGIL_OK : SIGIL_E_NOMEM;
}

void outbox_free(outbox *o)
{
    for (size_t i = 0; i < o->n; i++)
        sigil_buf_free(&o->pay[i]);
    free(o->env);
    free(o->ptr);
    free(o->pay);
    memset(o, 0, sizeof *o);
}

int outbox_add(node *nd, outbox *o, const uint8_t *sid, uint32_t round, uint32_t to,
                      uint32_t kind, const uint8_t *body, size_t blen, const uint8_t *box)
{
    if (o->n >= o->cap)
        return SIGIL_E_TOO_LARGE;
    sigil_env_header h = {sid, sid ? SIGIL_ENV_SID_LEN : 0, round, nd->cfg.node_id, to, kind};
    sigil_buf *p = &o->pay[o->n];
    int rc = sigil_buf_init(p, SIGIL_ENV_MAX_BODY + 1024, 0);
    if (!rc) rc = sigil_env_seal(nd->ek, &h, body, blen, box, p);
    if (rc) {
        sigil_buf_free(p);
        return rc;
    }
    Sigil__V1__Envelope init = SIGIL__V1__ENVELOPE__INIT;
    Sigil__V1__Envelope *e = &o->env[o->n];
    *e = init;
    e->session_id.data = (uint8_t *)sid;
    e->session_id.len = sid ? SIGIL_ENV_SID_LEN : 0;
    e->round = round;
    e->from = nd->cfg.node_id;
    e->to = to;
    e->kind = (Sigil__V1__EnvelopeKind)kind;
    e->payload.data = p->data;
    e->payload.len = p->size;
    o->ptr[o->n] = e;
    o->n++;
    return SIGIL_OK;
}

/* Seal count COMMITMENT bodies as one signed batch (sigil_env_seal_commitments)
 * into count envelopes of o (empty session id, round 0, to 0). */
static int outbox_add_commitments(node *nd, outbox *o, const sigil_buf *bodies, size_t count)
{
    if (o->n + count > o->cap)
        return SIGIL_E_TOO_LARGE;
    sigil_env_header h = {NULL, 0, 0, nd->cfg.node_id, 0, SIGIL_ENV_COMMITMENT};
    sigil_buf *p = &o->pay[o->n];
    int rc = 0;
    size_t inited = 0;
    for (; inited < count && !rc; inited++)
        rc = sigil_buf_init(&p[inited], SIGIL_ENV_MAX_BODY + 1024, 0);
    if (!rc) rc = sigil_env_seal_commitments(nd->ek, &h, bodies, count, p);
    if (rc) {
        for (size_t i = 0; i < inited; i++)
            sigil_buf_free(&p[i]);
        return rc;
    }
    for (size_t i = 0; i < count; i++) {
        Sigil__V1__Envelope init = SIGIL__V1__ENVELOPE__INIT;
        Sigil__V1__Envelope *e = &o->env[o->n];
        *e = init;
        e->round = 0;
        e->from = nd->cfg.node_id;
        e->to = 0;
        e->kind = SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_COMMITMENT;
        e->payload.data = p[i].data;
        e->payload.len = p[i].size;
        o->ptr[o->n] = e;
        o->n++;
    }
    return SIGIL_OK;
}

static void header_of(const Sigil__V1__Envelope *e, sigil_env_header *h)
{
    h->session_id = e->session_id.data;
    h->session_id_len = e->session_id.len;
    h->round = e->round;
    h->from = e->from;
    h->to = e->to;
    h->kind = (uint32_t)e->kind;
}

int party_index(const uint32_t *parties, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (parties[i] == id)
            return (int)i;
    return -1;
}

/* Check one inbound envelope against what the session expects and open it.
 * want_to: 0 for a broadcast, else this node. */
int inbound_open(node *nd, sigil_rpc_call *call, const Sigil__V1__Envelope *e,
                        const uint8_t *sid, uint32_t round, uint32_t kind, uint32_t want_to,
                        const uint32_t *parties, size_t np, sigil_buf *body, uint8_t box[32],
                        int *from_idx)
{
    if (!e) {
        DETAIL(call, "missing envelope");
        return SIGIL_E_ENCODING;
    }
    if (sid && (e->session_id.len != SIGIL_ENV_SID_LEN ||
                memcmp(e->session_id.data, sid, SIGIL_ENV_SID_LEN) != 0)) {
        DETAIL(call, "envelope from node %u belongs to another session", e->from);
        return SIGIL_E_SESSION;
    }
    if (!sid && e->session_id.len != 0) {
        DETAIL(call, "commitment envelope carries a session id");
        return SIGIL_E_ENCODING;
    }
    if (e->round != round) {
        DETAIL(call, "envelope from node %u is for round %u, expected round %u", e->from,
               e->round, round);
        return e->round < round ? SIGIL_E_REPLAY : SIGIL_E_STATE;
    }
    if ((uint32_t)e->kind != kind) {
        DETAIL(call, "envelope from node %u has kind %d, expected %u", e->from, (int)e->kind, kind);
        return SIGIL_E_ENCODING;
    }
    if (e->to != want_to) {
        DETAIL(call, "envelope from node %u is addressed to %u, not %u", e->from, e->to, want_to);
        return SIGIL_E_PARTICIPANT;
    }
    int idx = party_index(parties, np, e->from);
    if (idx < 0 || e->from == nd->cfg.node_id) {
        DETAIL(call, "envelope from node %u, not another participant", e->from);
        return SIGIL_E_PARTICIPANT;
    }
    sigil_env_header h;
    header_of(e, &h);
    int rc = sigil_env_open(nd->peers, nd->ek, &h, e->payload.data, e->payload.len, body, box);
    if (rc) {
        DETAIL(call, "envelope from node %u refused: %s", e->from, sigil_strerror(rc));
        return rc;
    }
    *from_idx = idx;
    return SIGIL_OK;
}

/* -------------------------------------------------------------- sessions */

static session *session_find(node *nd, const uint8_t *sid, size_t len)
{
    if (len != SIGIL_ENV_SID_LEN)
        return NULL;
    for (session *s = nd->sessions; s; s = s->next)
        if (!memcmp(s->sid, sid, SIGIL_ENV_SID_LEN))
            return s;
    return NULL;
}

void session_drop(node *nd, session *s)
{
    for (session **pp = &nd->sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            nd->nsessions--;
            break;
        }
    sigil_dkg_free(s->dkg);
    sigil_buf_free(&s->own_bcast);
    sigil_buf_free(&s->pubpkg);
    sigil_ecdsa_setup_free(s->setup);
    for (uint32_t j = 0; s->ps && j < s->count; j++)
        sigil_ecdsa_presign_free(s->ps[j]);
    for (uint32_t j = 0; s->presigs && j < s->count; j++)
        sigil_ecdsa_presig_free(s->presigs[j]);
    free(s->ps);
    free(s->presigs);
    sigil_ecdsa_share_free(s->share);
    key_free(s->pending);
    sigil_buf_free(&s->result);
    sodium_memzero(s, sizeof *s);
    free(s);
}

int pack_response(sigil_rpc_call *call, const uint8_t *sid, uint32_t round, outbox *out,
                         int done, outbox *results)
{
    Sigil__V1__SessionResponse r = SIGIL__V1__SESSION_RESPONSE__INIT;
    r.session_id.data = (uint8_t *)sid;
    r.session_id.len = SIGIL_ENV_SID_LEN;
    r.round = round;
    if (out) {
        r.n_outbound = out->n;
        r.outbound = out->ptr;
    }
    r.done = done;
    if (results) {
        r.n_results = results->n;
        r.results = results->ptr;
    }
    return sigil_rpc_pack(&r.base, call->resp);
}

int check_not_halted(node *nd, sigil_rpc_call *call)
{
    if (!atomic_load(&nd->halted))
        return SIGIL_OK;
    pthread_mutex_lock(&nd->bmu);
    DETAIL(call, "node %u is halted (epoch %llu, by %.60s: %.80s); it produces no shares until a k-of-m resume",
           nd->cfg.node_id, (unsigned long long)nd->epoch, nd->halted_by, nd->reason);
    pthread_mutex_unlock(&nd->bmu);
    return SIGIL_E_HALTED;
}

void scalar_ids(const sigil_group *g, const uint32_t *parties, size_t n, sigil_scalar *ids)
{
    for (size_t i = 0; i < n; i++)
        sigil_scalar_set_u64(g, &ids[i], parties[i]);
}

/* Echo hash of round-r broadcasts: SHA-256(domain || sid || r || for each
 * party ascending: u32 id || SHA-256(payload)). */
void echo_hash(const session *s, uint32_t round, const sigil_buf *payloads, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    static const char dom[] = "sigil.v1.echo";
    crypto_hash_sha256_update(&st, (const uint8_t *)dom, sizeof dom);
    crypto_hash_sha256_update(&st, s->sid, 32);
    uint8_t r[4] = {(uint8_t)(round >> 24), (uint8_t)(round >> 16), (uint8_t)(round >> 8), (uint8_t)round};
    crypto_hash_sha256_update(&st, r, 4);
    for (uint32_t i = 0; i < s->n; i++) {
        uint8_t id[4] = {(uint8_t)(s->parties[i] >> 24), (uint8_t)(s->parties[i] >> 16),
                         (uint8_t)(s->parties[i] >> 8), (uint8_t)s->parties[i]};
        uint8_t h[32];
        crypto_hash_sha256(h, payloads[i].data, payloads[i].size);
        crypto_hash_sha256_update(&st, id, 4);
        crypto_hash_sha256_update(&st, h, 32);
    }
    crypto_hash_sha256_final(&st, out);
}

int check_parties(node *nd, sigil_rpc_call *call, const uint32_t *p, size_t n, uint32_t *self)
{
    if (n < 2 || n > NODE_MAX_PEERS) {
        DETAIL(call, "parties: %zu participants, need 2..%d", n, NODE_MAX_PEERS);
        return SIGIL_E_PARTICIPANT;
    }
    int idx = -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 1 || p[i] > 65535 || (i && p[i] <= p[i - 1])) {
            DETAIL(call, "parties must be ascending node ids");
            return SIGIL_E_PARTICIPANT;
        }
        if (p[i] == nd->cfg.node_id)
            idx = (int)i;
        int known = 0;
        for (size_t j = 0; j < nd->cfg.npeers; j++)
            if (nd->cfg.peer_ids[j] == p[i])
                known = 1;
        if (!known) {
            DETAIL(call, "party %u has no identity key in this node's configuration", p[i]);
            return SIGIL_E_PARTICIPANT;
        }
    }
    if (idx < 0) {
        DETAIL(call, "this node (%u) is not among the parties", nd->cfg.node_id);
        return SIGIL_E_PARTICIPANT;
    }
    *self = (uint32_t)idx;
    return SIGIL_OK;
}

/* DKG start: round 1 broadcast. */
static int dkg_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq)
{
    if (rq->scheme < 1 || rq->scheme > 4) {
        DETAIL(call, "DKG for scheme %d is not supported by this node", rq->scheme);
        return SIGIL_E_VERSION;
    }
    if (key_find(nd, rq->key_id) || key_retired(nd, rq->key_id)) {
        DETAIL(call, "key '%s' already exists on this node%s", rq->key_id,
               key_retired(nd, rq->key_id) ? " (retired: its id is never reused)" : "");
        return SIGIL_E_EXISTS;
    }
    for (session *o = nd->sessions; o; o = o->next)
        if (o->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_DKG && !strcmp(o->key_id, rq->key_id)) {
            DETAIL(call, "a DKG for key '%s' is already running", rq->key_id);
            return SIGIL_E_EXISTS;
        }
    uint32_t self;
    int rc = check_parties(nd, call, rq->parties, rq->n_parties, &self);
    if (rc)
        return rc;
    if (rq->num_parties != rq->n_parties || rq->threshold < 1 || rq->threshold > rq->num_parties) {
        DETAIL(call, "threshold %u / num_parties %u do not fit %zu parties", rq->threshold,
               rq->num_parties, rq->n_parties);
        return SIGIL_E_THRESHOLD;
    }
    if (rq->n_inbound || rq->n_items || rq->n_pool_entries) {
        DETAIL(call, "DKG start takes no inbound envelopes, items or pool entries");
        return SIGIL_E_INVALID;
    }
    if (nd->nsessions >= MAX_SESSIONS) {
        DETAIL(call, "too many open sessions");
        return SIGIL_E_TOO_LARGE;
    }
    session *s = calloc(1, sizeof *s);
    if (!s)
        return SIGIL_E_NOMEM;
    memcpy(s->sid, rq->session_id.data, 32);
    s->kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_DKG;
    snprintf(s->key_id, sizeof s->key_id, "%s", rq->key_id);
    s->scheme = (uint16_t)rq->scheme;
    s->t = rq->threshold;
    s->n = rq->num_parties;
    memcpy(s->parties, rq->parties, s->n * sizeof *s->parties);
    s->self = self;
    int ecdsa = s->scheme == SIGIL_ENV_SCHEME_ECDSA;
    sigil_frost_suite suite = ecdsa ? SIGIL_FROST_SECP256K1 : (sigil_frost_suite)s->scheme;
    if (ecdsa)
        for (uint32_t i = 0; i < s->n; i++)
            if (s->parties[i] != i + 1 || s->n > SIGIL_ECDSA_MAX_PARTIES) {
                DETAIL(call, "an ECDSA key needs parties 1..n (n <= %d)", SIGIL_ECDSA_MAX_PARTIES);
                free(s);
                return SIGIL_E_PARTICIPANT;
            }
    sigil_scalar ids[NODE_MAX_PEERS];
    scalar_ids(sigil_frost_group(suite), s->parties, s->n, ids);
    sigil_dkg_params prm = {sigil_frost_group(suite), ecdsa ? SIGIL_ECDSA_DKG_CONTEXT : sigil_frost_context(suite),
                            s->t, s->n, ids, self};
    rc = sigil_dkg_new(&prm, &s->dkg);
    sigil_buf r1;
    memset(&r1, 0, sizeof r1);
    if (!rc) rc = sigil_buf_init(&r1, 1 << 20, 0);
    if (!rc) rc = sigil_dkg_round1(s->dkg, NULL, NULL, &r1);
    /* the id is burned before anything leaves the node */
    if (!rc) {
        rc = seen_record(nd, s->sid, 1);
        if (rc == SIGIL_E_REPLAY)
            DETAIL(call, "session id already seen by this node");
    }
    outbox o;
    memset(&o, 0, sizeof o);
    if (!rc) rc = outbox_init(&o, 1);
    if (!rc) rc = outbox_add(nd, &o, s->sid, 1, 0, SIGIL_ENV_DATA, r1.data, r1.size, NULL);
    if (!rc) {
        rc = sigil_buf_init(&s->own_bcast, SIGIL_ENV_MAX_BODY + 1024, 0);
        if (!rc) rc = sigil_buf_put(&s->own_bcast, o.pay[0].data, o.pay[0].size);
    }
    if (!rc) rc = pack_response(call, s->sid, 1, &o, 0, NULL);
    outbox_free(&o);
    sigil_buf_free(&r1);
    if (rc) {
        sigil_dkg_free(s->dkg);
        sigil_buf_free(&s->own_bcast);
        free(s);
        return rc;
    }
    s->round = 1;
    s->next = nd->sessions;
    nd->sessions = s;
    nd->nsessions++;
    return SIGIL_OK;
}

/* Store a finished key: seal the secret encoding (the FROST keyshare or
 * the DKLs23 share), write the key file atomically, load it back. */
int key_store_version(node *nd, const char *key_id, uint16_t scheme, uint32_t version,
                      const char *suffix, const sigil_buf *secret, const sigil_buf *pubpkg,
                      keyrec **out)
{
    keyrec tmp;
    memset(&tmp, 0, sizeof tmp);
    snprintf(tmp.key_id, sizeof tmp.key_id, "%s", key_id);
    tmp.scheme = scheme;
    tmp.party = nd->cfg.node_id;
    tmp.version = version;
    sigil_buf blob, file;
    memset(&blob, 0, sizeof blob);
    memset(&file, 0, sizeof file);
    sigil_hsm_ad ad;
    ad_for(&tmp, &ad);
    int rc = sigil_buf_init(&blob, 4 * SIGIL_HSM_SHARE_MAX, 0);
    if (!rc) rc = sigil_hsm_seal(nd->hsm, &ad, secret->data, secret->size, &blob);
    if (!rc) rc = sigil_buf_init(&file, 8 * SIGIL_HSM_SHARE_MAX, 0);
    if (!rc) rc = sigil_buf_put(&file, "SGNK", 4);
    if (!rc) rc = sigil_buf_put_u8(&file, 1);
    if (!rc) rc = sigil_buf_put_u16(&file, scheme);
    if (!rc) rc = sigil_buf_put_u32(&file, tmp.party);
    if (!rc) rc = sigil_buf_put_u32(&file, tmp.version);
    if (!rc) rc = sigil_buf_put_string(&file, key_id, strlen(key_id));
    if (!rc) rc = sigil_buf_put_string(&file, pubpkg->data, pubpkg->size);
    if (!rc) rc = sigil_buf_put_string(&file, blob.data, blob.size);
    char path[NODE_PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/%s%s", nd->path_keys, key_id, suffix);
    if (!rc) rc = sigil_file_write_atomic(path, file.data, file.size, 0600);
    keyrec *parsed = NULL;
    if (!rc) rc = key_from_bytes(file.data, file.size, &parsed);
    sigil_buf_free(&blob);
    sigil_buf_free(&file);
    if (rc)
        return rc;
    *out = parsed;
    return SIGIL_OK;
}

static int key_store(node *nd, const char *key_id, uint16_t scheme, const sigil_buf *secret,
                     const sigil_buf *pubpkg, keyrec **out)
{
    return key_store_version(nd, key_id, scheme, SHARE_VERSION, ".key", secret, pubpkg, out);
}

/* Add the DKG RESULT to res and the key to the node. */
static int dkg_result(node *nd, session *s, keyrec *k, outbox *res)
{
    sigil_buf rb, pubb;
    memset(&rb, 0, sizeof rb);
    memset(&pubb, 0, sizeof pubb);
    int rc = sigil_buf_init(&pubb, SIGIL_HSM_SHARE_MAX, 0);
    if (!rc) rc = sigil_keyshare_serialize(&k->pub, &pubb);
    if (!rc) rc = sigil_buf_init(&rb, SIGIL_ENV_MAX_BODY, 0);
    if (!rc) rc = sigil_env_dkg_result_encode(k->scheme, k->key_id, k->pk, k->pklen, pubb.data,
                                              pubb.size, s->own_bcast.data, s->own_bcast.size, &rb);
    if (!rc) rc = outbox_init(res, 1);
    if (!rc) rc = outbox_add(nd, res, s->sid, s->round, 0, SIGIL_ENV_RESULT, rb.data, rb.size, NULL);
    sigil_buf_free(&rb);
    sigil_buf_free(&pubb);
    return rc;
}

/* Per-recipient multi-message body: u32 count | count x string. */
static int multi_put(sigil_buf *b, const sigil_buf *msgs, size_t count, size_t stride)
{
    int rc = sigil_buf_put_u32(b, (uint32_t)count);
    for (size_t j = 0; j < count && !rc; j++)
        rc = sigil_buf_put_string(b, msgs[j * stride].data, msgs[j * stride].size);
    return rc;
}

static int multi_get(const sigil_buf *body, size_t count, sigil_buf *views, size_t stride)
{
    sigil_buf b;
    sigil_buf_view(&b, body->data, body->size);
    uint32_t c;
    int rc = sigil_buf_get_u32(&b, &c);
    if (!rc && c != count)
        rc = SIGIL_E_MISMATCH;
    for (size_t j = 0; j < count && !rc; j++) {
        const uint8_t *p;
        size_t l;
        rc = sigil_buf_get_string(&b, SIGIL_ECDSA_MAX_PAYLOAD + 64, &p, &l);
        if (!rc) sigil_buf_view(&views[j * stride], p, l);
    }
    if (!rc) rc = sigil_buf_end(&b);
    return rc;
}

/* Open the inbound envelopes of one round into body[party index]: round
 * 1 and 3 of a DKG and round 1 of a PRESIGN are broadcasts; DKG round 2
 * also carries the echoes; every other round is addressed to this node.
 * Nothing in the session changes on failure. */
int collect(node *nd, sigil_rpc_call *call, session *s, const Sigil__V1__RoundRequest *rq,
                   sigil_buf *body, uint8_t echo[][32])
{
    uint32_t n = s->n, others = n - 1;
    int dkg = s->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_DKG ||
              s->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_REFRESH;
    int bcast = s->round == 1 || (dkg && s->round == 3);
    int echoes = dkg && s->round == 2;
    size_t want = echoes ? 2 * (size_t)others : others;
    if (rq->n_inbound != want) {
        DETAIL(call, "round %u needs %zu inbound envelopes, got %zu", s->round, want, rq->n_inbound);
        return SIGIL_E_INVALID;
    }
    int got[NODE_MAX_PEERS] = {0}, gotecho[NODE_MAX_PEERS] = {0};
    uint8_t box[NODE_MAX_PEERS][32];
    int rc = SIGIL_OK;
    for (uint32_t i = 0; i < n && !rc; i++)
        rc = sigil_buf_init(&body[i], SIGIL_ENV_MAX_BODY, SIGIL_BUF_SECRET);
    for (size_t i = 0; i < rq->n_inbound && !rc; i++) {
        const Sigil__V1__Envelope *e = rq->inbound[i];
        int is_echo = echoes && e && e->kind == SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_ECHO;
        uint32_t kind = is_echo ? SIGIL_ENV_ECHO : SIGIL_ENV_DATA;
        uint32_t to = (bcast || is_echo) ? 0 : nd->cfg.node_id;
        int idx = -1;
        sigil_buf tmp;
        uint8_t bx[32];
        rc = sigil_buf_init(&tmp, SIGIL_ENV_MAX_BODY, SIGIL_BUF_SECRET);
        if (!rc)
            rc = inbound_open(nd, call, e, s->sid, s->round, kind, to, s->parties, n, &tmp, bx, &idx);
        if (!rc && (is_echo ? gotecho[idx] : got[idx])) {
            DETAIL(call, "two envelopes from node %u in one round (replay)", e->from);
            rc = SIGIL_E_REPLAY;
        }
        if (!rc && is_echo) {
            if (tmp.size != 32) {
                DETAIL(call, "echo from node %u malformed", e->from);
                rc = SIGIL_E_ENCODING;
            } else {
                memcpy(echo[idx], tmp.data, 32);
                gotecho[idx] = 1;
            }
        } else if (!rc) {
            rc = sigil_buf_put(&body[idx], tmp.data, tmp.size);
            got[idx] = 1;
            memcpy(box[idx], bx, 32);
        }
        sigil_buf_free(&tmp);
    }
    if (!rc && s->round == 1)
        for (uint32_t i = 0; i < n; i++)
            if (i != s->self)
                memcpy(s->box[i], box[i], 32);
    if (rc)
        for (uint32_t i = 0; i < n; i++)
            sigil_buf_free(&body[i]);
    return rc;
}

/* Outbound to every other party: out[i] indexed by party (self ignored). */
int send_each(node *nd, session *s, outbox *o, uint32_t round, const sigil_buf *out)
{
    int rc = SIGIL_OK;
    for (uint32_t i = 0; i < s->n && !rc; i++)
        if (i != s->self)
            rc = outbox_add(nd, o, s->sid, round, s->parties[i], SIGIL_ENV_DATA, out[i].data,
                            out[i].size, s->box[i]);
    return rc;
}

/* DKLs23 messages: in[k] / out[k] = the k-th other party. Map to/from the
 * party-indexed arrays. */
static void others_of(const session *s, const sigil_buf *by_party, sigil_buf *by_other)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n; i++)
        if (i != s->self)
            sigil_buf_view(&by_other[k++], by_party[i].data, by_party[i].size);
}

int ecdsa_out_init(sigil_buf *out, size_t count)
{
    int rc = SIGIL_OK;
    for (size_t i = 0; i < count && !rc; i++)
        rc = sigil_buf_init(&out[i], SIGIL_ECDSA_MAX_PAYLOAD + 64, 0);
    return rc;
}

/* The inbound messages of a DKG-like round (DKG, REFRESH): the opened
 * bodies (collect), in round 1 the raw broadcast payloads by party (for the
 * echo hash), and in round 2 the echo check — a node that saw other round-1
 * broadcasts is authenticated evidence of equivocation, and the session is
 * over (SIGIL_E_MISMATCH). */
int dkg_round_inputs(node *nd, sigil_rpc_call *call, session *s, const Sigil__V1__RoundRequest *rq,
                     sigil_buf *body, sigil_buf *raw)
{
    uint32_t n = s->n;
    uint8_t echo[NODE_MAX_PEERS][32];
    memset(body, 0, NODE_MAX_PEERS * sizeof *body);
    memset(raw, 0, NODE_MAX_PEERS * sizeof *raw);
    int rc = collect(nd, call, s, rq, body, echo);
    if (rc)
        return rc;
    if (s->round == 1)
        for (size_t i = 0; i < rq->n_inbound; i++) {
            int idx = party_index(s->parties, n, rq->inbound[i]->from);
            sigil_buf_view(&raw[idx], rq->inbound[i]->payload.data, rq->inbound[i]->payload.len);
        }
    if (s->round == 2)
        for (uint32_t i = 0; i < n; i++)
            if (i != s->self && sodium_memcmp(echo[i], s->echo, 32) != 0) {
                DETAIL(call, "echo check failed: node %u saw other round-1 broadcasts (equivocation)",
                       s->parties[i]);
                for (uint32_t j = 0; j < n; j++)
                    sigil_buf_free(&body[j]);
                session_drop(nd, s);
                return SIGIL_E_MISMATCH;
            }
    return SIGIL_OK;
}

static int dkg_round(node *nd, sigil_rpc_call *call, session *s, const Sigil__V1__RoundRequest *rq)
{
    uint32_t n = s->n;
    sigil_buf body[NODE_MAX_PEERS], raw[NODE_MAX_PEERS];
    int rc = dkg_round_inputs(nd, call, s, rq, body, raw);
    if (rc)
        return rc;
    uint32_t culprit = SIGIL_DKG_NOBODY;
    uint16_t eculprit = 0;
    outbox o, res;
    memset(&o, 0, sizeof o);
    memset(&res, 0, sizeof res);
    rc = outbox_init(&o, n + 1);
    uint32_t next = s->round + 1;
    int done = 0;
    sigil_buf out[NODE_MAX_PEERS], in[NODE_MAX_PEERS];
    memset(out, 0, sizeof out);
    if (!rc && s->round == 1) {
        for (uint32_t i = 0; i < n && !rc; i++)
            rc = sigil_buf_init(&out[i], 1 << 16, SIGIL_BUF_SECRET);
        if (!rc) rc = sigil_dkg_round2(s->dkg, body, out, &culprit);
        if (!rc) rc = send_each(nd, s, &o, 2, out);
        if (!rc) {
            raw[s->self] = s->own_bcast;
            echo_hash(s, 1, raw, s->echo);
            rc = outbox_add(nd, &o, s->sid, 2, 0, SIGIL_ENV_ECHO, s->echo, 32, NULL);
        }
    } else if (!rc && s->round == 2) {
        rc = sigil_buf_init(&out[0], 1 << 16, 0);
        if (!rc) rc = sigil_dkg_round3(s->dkg, body, &out[0], &culprit);
        if (!rc) rc = outbox_add(nd, &o, s->sid, 3, 0, SIGIL_ENV_DATA, out[0].data, out[0].size, NULL);
        if (!rc) {
            sigil_buf_reset(&s->own_bcast);
            rc = sigil_buf_put(&s->own_bcast, out[0].data, out[0].size);
        }
    } else if (!rc && s->round == 3) {
        sigil_keyshare ks;
        memset(&ks, 0, sizeof ks);
        rc = sigil_dkg_finish(s->dkg, body, &ks, &culprit);
        sigil_buf sec, pubb;
        memset(&sec, 0, sizeof sec);
        memset(&pubb, 0, sizeof pubb);
        sigil_keyshare pubk;
        if (!rc && s->scheme != SIGIL_ENV_SCHEME_ECDSA)
            rc = sigil_frost_prepare_key((sigil_frost_suite)s->scheme, &ks);
        if (!rc) {
            pubk = ks;
            pubk.secret = NULL;
            rc = sigil_buf_init(&pubb, SIGIL_HSM_SHARE_MAX, 0);
        }
        if (!rc) rc = sigil_keyshare_serialize(&pubk, &pubb);
        if (!rc && s->scheme != SIGIL_ENV_SCHEME_ECDSA) {
            keyrec *k = NULL;
            uint8_t *sp = NULL, h[32];
            rc = sigil_buf_init(&sec, FROST_SEALED_LEN, SIGIL_BUF_SECRET);
            if (!rc) rc = sigil_buf_put_u8(&sec, 1);
            if (!rc) rc = sigil_buf_reserve(&sec, 32, &sp);
            if (!rc) sigil_scalar_serialize(ks.g, sp, ks.secret);
            crypto_hash_sha256(h, pubb.data, pubb.size);
            if (!rc) rc = sigil_buf_put(&sec, h, 32);
            if (!rc) rc = key_store(nd, s->key_id, s->scheme, &sec, &pubb, &k);
            if (!rc) rc = dkg_result(nd, s, k, &res);
            if (!rc) {
                k->next = nd->keys;
                nd->keys = k;
                fprintf(stderr, "sigil-node %u: key '%s' generated (scheme %u)\n", nd->cfg.node_id,
                        k->key_id, k->scheme);
            } else {
                key_free(k);
            }
            done = 1;
            next = 3;
        } else if (!rc) {
            /* DKLs23: the pairwise OT setup follows (rounds 4..6) */
            sigil_ecdsa_keyshare *eks = NULL;
            rc = sigil_ecdsa_keyshare_from_dkg_share(&eks, &ks);
            if (!rc) rc = sigil_ecdsa_setup_new(&s->setup, eks, s->sid);
            sigil_ecdsa_keyshare_free(eks);
            if (!rc) rc = sigil_buf_init(&s->pubpkg, SIGIL_HSM_SHARE_MAX, 0);
            if (!rc) rc = sigil_buf_put(&s->pubpkg, pubb.data, pubb.size);
            sigil_buf eo[NODE_MAX_PEERS];
            memset(eo, 0, sizeof eo);
            if (!rc) rc = ecdsa_out_init(eo, n - 1);
            if (!rc) rc = sigil_ecdsa_setup_round1(s->setup, eo);
            uint32_t k = 0;
            for (uint32_t i = 0; i < n && !rc; i++)
                if (i != s->self)
                    sigil_buf_view(&out[i], eo[k].data, eo[k].size), k++;
            if (!rc) rc = send_each(nd, s, &o, 4, out);
            memset(out, 0, sizeof out);
            for (uint32_t i = 0; i < n; i++)
                sigil_buf_free(&eo[i]);
        }
        sigil_keyshare_free(&ks);
        sigil_buf_free(&sec);
        sigil_buf_free(&pubb);
    } else if (!rc && s->round >= 4 && s->round <= 6 && s->setup) {
        others_of(s, body, in);
        sigil_buf eo[NODE_MAX_PEERS];
        memset(eo, 0, sizeof eo);
        rc = ecdsa_out_init(eo, n - 1);
        if (!rc && s->round == 4)
            rc = sigil_ecdsa_setup_round2(s->setup, in, eo, &eculprit);
        else if (!rc && s->round == 5)
            rc = sigil_ecdsa_setup_round3(s->setup, in, eo, &eculprit);
        if (!rc && s->round < 6) {
            uint32_t k = 0;
            for (uint32_t i = 0; i < n; i++)
                if (i != s->self)
                    sigil_buf_view(&out[i], eo[k].data, eo[k].size), k++;
            rc = send_each(nd, s, &o, next, out);
            memset(out, 0, sizeof out);
        } else if (!rc) {
            sigil_ecdsa_share *sh = NULL;
            sigil_buf sec;
            memset(&sec, 0, sizeof sec);
            keyrec *k = NULL;
            rc = sigil_ecdsa_setup_finish(s->setup, in, &sh, &eculprit);
            if (!rc) rc = sigil_buf_init(&sec, 4 * SIGIL_HSM_SHARE_MAX, SIGIL_BUF_SECRET);
            if (!rc) rc = sigil_ecdsa_share_encode(sh, &sec);
            if (!rc) rc = key_store(nd, s->key_id, s->scheme, &sec, &s->pubpkg, &k);
            if (!rc) rc = dkg_result(nd, s, k, &res);
            if (!rc) {
                k->next = nd->keys;
                nd->keys = k;
                fprintf(stderr, "sigil-node %u: ECDSA key '%s' generated\n", nd->cfg.node_id, k->key_id);
            } else {
                key_free(k);
            }
            sigil_ecdsa_share_free(sh);
            sigil_buf_free(&sec);
            done = 1;
            next = 6;
        }
        for (uint32_t i = 0; i < n; i++)
            sigil_buf_free(&eo[i]);
    } else if (!rc) {
        rc = SIGIL_E_STATE;
    }
    for (uint32_t i = 0; i < n; i++) {
        sigil_buf_free(&body[i]);
        sigil_buf_free(&out[i]);
    }
    if (!rc) rc = pack_response(call, s->sid, next, done ? NULL : &o, done, done ? &res : NULL);
    outbox_free(&o);
    outbox_free(&res);
    if (rc) {
        if (culprit != SIGIL_DKG_NOBODY && culprit < n)
            DETAIL(call, "DKG round %u failed: %s (culprit node %u)", s->round, sigil_strerror(rc),
                   s->parties[culprit]);
        else if (eculprit)
            DETAIL(call, "DKG round %u failed: %s (culprit node %u)", s->round, sigil_strerror(rc),
                   eculprit);
        else
            DETAIL(call, "DKG round %u failed: %s", s->round, sigil_strerror(rc));
        session_drop(nd, s);
        return rc;
    }
    if (done)
        session_drop(nd, s);
    else
        s->round = next;
    return SIGIL_OK;
}

/* ---- ECDSA presigning: round 1 hello (certificates, so every later
 * message can be encrypted), round 2 PRESIGN1, round 3 PRESIGN2, finish.
 * `count` independent presignatures, instance j with the DKLs23 session id
 * SHA-256("sigil.v1.presign" || session id || u32 j). ---- */

int unseal_ecdsa(node *nd, const keyrec *k, sigil_ecdsa_share **out)
{
    sigil_hsm_ad ad;
    ad_for(k, &ad);
    sigil_buf sb;
    int rc = sigil_buf_init(&sb, 4 * SIGIL_HSM_SHARE_MAX, SIGIL_BUF_SECRET);
    if (!rc) rc = sigil_hsm_unseal(nd->hsm, &ad, k->blob, k->bloblen, &sb);
    if (!rc) rc = sigil_ecdsa_share_decode(out, sb.data, sb.size);
    sigil_buf_free(&sb);
    return rc;
}

static int presign_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq)
{
    int rc = check_not_halted(nd, call);
    if (rc)
        return rc;
    keyrec *k = key_find(nd, rq->key_id);
    if (!k || k->scheme != SIGIL_ENV_SCHEME_ECDSA || (int)rq->scheme != SIGIL_ENV_SCHEME_ECDSA) {
        DETAIL(call, "no ECDSA key '%s' on this node", rq->key_id);
        return k ? SIGIL_E_MISMATCH : SIGIL_E_NOT_FOUND;
    }
    uint32_t self;
    rc = check_parties(nd, call, rq->parties, rq->n_parties, &self);
    if (rc)
        return rc;
    if (rq->n_parties < k->pub.t || rq->n_parties > k->pub.n || rq->parties[rq->n_parties - 1] > k->pub.n) {
        DETAIL(call, "%zu signers for a %u-of-%u key", rq->n_parties, k->pub.t, k->pub.n);
        return SIGIL_E_THRESHOLD;
    }
    if (rq->count < 1 || rq->count > PRESIGN_MAX_COUNT || rq->n_inbound || rq->n_items) {
        DETAIL(call, "PRESIGN count must be 1..%d, without inbound or items", PRESIGN_MAX_COUNT);
        return SIGIL_E_INVALID;
    }
    if (nd->nsessions >= MAX_SESSIONS)
        return SIGIL_E_TOO_LARGE;
    session *s = calloc(1, sizeof *s);
    if (!s)
        return SIGIL_E_NOMEM;
    memcpy(s->sid, rq->session_id.data, 32);
    s->kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_PRESIGN;
    snprintf(s->key_id, sizeof s->key_id, "%s", k->key_id);
    s->scheme = SIGIL_ENV_SCHEME_ECDSA;
    s->t = k->pub.t;
    s->n = (uint32_t)rq->n_parties;
    memcpy(s->parties, rq->parties, s->n * sizeof *s->parties);
    s->self = self;
    s->count = rq->count;
    rc = seen_record(nd, s->sid, 1);
    if (rc == SIGIL_E_REPLAY)
        DETAIL(call, "session id already seen by this node");
    outbox o;
    memset(&o, 0, sizeof o);
    if (!rc) rc = outbox_init(&o, 1);
    if (!rc) rc = outbox_add(nd, &o, s->sid, 1, 0, SIGIL_ENV_DATA, NULL, 0, NULL);
    if (!rc) rc = pack_response(call, s->sid, 1, &o, 0, NULL);
    outbox_free(&o);
    if (rc) {
        free(s);
        return rc;
    }
    s->round = 1;
    s->next = nd->sessions;
    nd->sessions = s;
    nd->nsessions++;
    return SIGIL_OK;
}

static int presign_round(node *nd, sigil_rpc_call *call, session *s, const Sigil__V1__RoundRequest *rq)
{
    uint32_t n = s->n, c = s->count;
    sigil_buf body[NODE_MAX_PEERS];
    memset(body, 0, sizeof body);
    int rc = collect(nd, call, s, rq, body, NULL);
    if (rc)
        return rc;
    keyrec *k = key_find(nd, s->key_id);
    uint16_t culprit = 0;
    outbox o, res;
    memset(&o, 0, sizeof o);
    memset(&res, 0, sizeof res);
    rc = outbox_init(&o, n);
    size_t o1 = n - 1;
    /* out[j * o1 + q]: instance j, q-th other signer */
    sigil_buf *eo = calloc((size_t)c * o1, sizeof *eo), *ei = calloc((size_t)c * o1, sizeof *ei);
    if (!eo || !ei)
        rc = SIGIL_E_NOMEM;
    if (!rc && !k)
        rc = SIGIL_E_NOT_FOUND;
    if (!rc && s->round == 1) {
        rc = check_not_halted(nd, call);
        if (!rc) rc = unseal_ecdsa(nd, k, &s->share);
        if (!rc && !(s->ps = calloc(c, sizeof *s->ps)))
            rc = SIGIL_E_NOMEM;
        uint16_t signers[SIGIL_ECDSA_MAX_PARTIES];
        for (uint32_t i = 0; i < n && i < SIGIL_ECDSA_MAX_PARTIES; i++)
            signers[i] = (uint16_t)s->parties[i];
        for (uint32_t j = 0; j < c && !rc; j++) {
            uint8_t isid[32];
            crypto_hash_sha256_state st;
            static const char dom[] = "sigil.v1.presign";
            uint8_t jb[4] = {(uint8_t)(j >> 24), (uint8_t)(j >> 16), (uint8_t)(j >> 8), (uint8_t)j};
            crypto_hash_sha256_init(&st);
            crypto_hash_sha256_update(&st, (const uint8_t *)dom, sizeof dom);
            crypto_hash_sha256_update(&st, s->sid, 32);
            crypto_hash_sha256_update(&st, jb, 4);
            crypto_hash_sha256_final(&st, isid);
            rc = sigil_ecdsa_presign_new(&s->ps[j], s->share, isid, signers, n);
            if (!rc) rc = ecdsa_out_init(&eo[j * o1], o1);
            if (!rc) rc = sigil_ecdsa_presign_round1(s->ps[j], &eo[j * o1]);
        }
    } else if (!rc && (s->round == 2 || s->round == 3)) {
        uint32_t q = 0;
        for (uint32_t i = 0; i < n && !rc; i++)
            if (i != s->self) {
                rc = multi_get(&body[i], c, &ei[q], o1);
                if (rc)
                    DETAIL(call, "presign message from node %u malformed", s->parties[i]);
                q++;
            }
        for (uint32_t j = 0; j < c && !rc; j++) {
            if (s->round == 2) {
                rc = ecdsa_out_init(&eo[j * o1], o1);
                if (!rc) rc = sigil_ecdsa_presign_round2(s->ps[j], &ei[j * o1], &eo[j * o1], &culprit);
            } else {
                if (!s->presigs && !(s->presigs = calloc(c, sizeof *s->presigs)))
                    rc = SIGIL_E_NOMEM;
                if (!rc) rc = sigil_ecdsa_presign_finish(s->ps[j], &ei[j * o1], &s->presigs[j], &culprit);
            }
        }
    } else if (!rc) {
        rc = SIGIL_E_STATE;
    }
    /* outbound: per other signer, the count messages of round+1 */
    if (!rc && s->round < 3) {
        uint32_t q = 0;
        for (uint32_t i = 0; i < n && !rc; i++)
            if (i != s->self) {
                sigil_buf b;
                rc = sigil_buf_init(&b, SIGIL_ENV_MAX_BODY, 0);
                if (!rc) rc = multi_put(&b, &eo[q], c, o1);
                if (!rc) rc = outbox_add(nd, &o, s->sid, s->round + 1, s->parties[i], SIGIL_ENV_DATA,
                                         b.data, b.size, s->box[i]);
                sigil_buf_free(&b);
                q++;
            }
    }
    int done = 0;
    if (!rc && s->round == 3) {
        /* everything verified: the presignatures enter the pool */
        sigil_buf rb;
        rc = sigil_buf_init(&rb, SIGIL_ENV_MAX_BODY, 0);
        size_t dropped = 0;
        if (!rc && k->nps + c > nd->cfg.presign_max)
            rc = presig_evict_oldest(k, nd->cfg.presign_max > c ? nd->cfg.presign_max - c : 0, &dropped);
        if (dropped)
            fprintf(stderr, "sigil-node: key '%s': presign_max %u reached: dropped the %zu oldest "
                    "unused presignatures (a coordinator restarted?)\n", k->key_id, nd->cfg.presign_max, dropped);
        if (!rc && k->nps + c > k->capps) {
            presig_entry *np = realloc(k->ps, (k->nps + c) * sizeof *np);
            if (!np)
                rc = SIGIL_E_NOMEM;
            else {
                k->ps = np;
                k->capps = k->nps + c;
            }
        }
        if (!rc) rc = sigil_buf_put_u16(&rb, k->scheme);
        if (!rc) rc = sigil_buf_put_string(&rb, k->key_id, strlen(k->key_id));
        if (!rc) rc = sigil_buf_put_u32(&rb, c);
        for (uint32_t j = 0; j < c && !rc; j++) {
            presig_entry *e = &k->ps[k->nps];
            memset(e, 0, sizeof *e);
            e->id = ((uint64_t)nd->boot << 32) | ++nd->seq;
            e->ps = s->presigs[j];
            s->presigs[j] = NULL;
            e->ns = n;
            memcpy(e->signers, s->parties, n * sizeof *s->parties);
            k->nps++;
            rc = sigil_buf_put_u64(&rb, e->id);
        }
        if (!rc) rc = outbox_init(&res, 1);
        if (!rc) rc = outbox_add(nd, &res, s->sid, 3, 0, SIGIL_ENV_RESULT, rb.data, rb.size, NULL);
        sigil_buf_free(&rb);
        done = 1;
    }
    for (size_t i = 0; eo && i < (size_t)c * o1; i++)
        sigil_buf_free(&eo[i]);
    free(eo);
    free(ei);
    for (uint32_t i = 0; i < n; i++)
        sigil_buf_free(&body[i]);
    if (!rc) rc = pack_response(call, s->sid, done ? 3 : s->round + 1, done ? NULL : &o, done, done ? &res : NULL);
    outbox_free(&o);
    outbox_free(&res);
    if (rc == SIGIL_E_CHECK && k && s->share) {
        /* a peer cheated in the OT extension: our OT sender state toward it
         * is burned (sigil/ot.h); persist that so a restart cannot revive it */
        keyrec *nk = NULL;
        sigil_buf sec, pubb;
        memset(&pubb, 0, sizeof pubb);
        int r2 = sigil_buf_init(&sec, 4 * SIGIL_HSM_SHARE_MAX, SIGIL_BUF_SECRET);
        if (!r2) r2 = sigil_ecdsa_share_encode(s->share, &sec);
        if (!r2) r2 = sigil_buf_init(&pubb, SIGIL_HSM_SHARE_MAX, 0);
        if (!r2) r2 = sigil_keyshare_serialize(&k->pub, &pubb);
        if (!r2) r2 = key_store_version(nd, k->key_id, k->scheme, k->version, ".key", &sec, &pubb, &nk);
        if (!r2) {
            free(k->blob);
            k->blob = nk->blob;
            k->bloblen = nk->bloblen;
            nk->blob = NULL;
        }
        key_free(nk);
        sigil_buf_free(&sec);
        sigil_buf_free(&pubb);
        fprintf(stderr, "sigil-node %u: OT cheat detected in presign (culprit %u); share re-sealed: %s\n",
                nd->cfg.node_id, culprit, sigil_errname(r2));
    }
    if (rc) {
        if (culprit)
            DETAIL(call, "presign round %u failed: %s (culprit node %u)", s->round, sigil_strerror(rc), culprit);
        else if (!call->detail[0])
            DETAIL(call, "presign round %u failed: %s", s->round, sigil_strerror(rc));
        session_drop(nd, s);
        return rc;
    }
    if (done)
        session_drop(nd, s);
    else
        s->round++;
    return SIGIL_OK;
}

/* ECDSA SIGN: one online share per item from the named presignatures.
 * Called with nd->mu held; releases it once the presignatures are out of
 * the pool and holds it again on return. */
static int ecdsa_sign(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq,
                      audit_batch *ab)
{
    int rc = check_not_halted(nd, call);
    if (rc)
        return rc;
    keyrec *k = key_find(nd, rq->key_id);
    if (!k || k->scheme != SIGIL_ENV_SCHEME_ECDSA) {
        DETAIL(call, "no ECDSA key '%s' on this node", rq->key_id);
        return k ? SIGIL_E_MISMATCH : SIGIL_E_NOT_FOUND;
    }
    size_t ni = rq->n_items;
    if (ni == 0 || ni > SIGIL_ENV_MAX_ITEMS || rq->n_pool_entries != ni || rq->n_inbound) {
        DETAIL(call, "ECDSA SIGN needs 1..%d items, one presignature id per item, no inbound", SIGIL_ENV_MAX_ITEMS);
        return SIGIL_E_INVALID;
    }
    size_t *pos = calloc(ni, sizeof *pos);
    if (!pos)
        return SIGIL_E_NOMEM;
    for (size_t i = 0; i < ni && !rc; i++) {
        const Sigil__V1__SignItem *it = rq->items[i];
        if (!it || it->payload_case != SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST || it->digest.len != 32) {
            DETAIL(call, "item %zu: ECDSA signs a 32-byte digest", i);
            rc = SIGIL_E_INVALID;
            break;
        }
        size_t j;
        for (j = 0; j < k->nps; j++)
            if (k->ps[j].id == rq->pool_entries[i])
                break;
        if (j == k->nps) {
            DETAIL(call, "presignature %llu of key '%s' unknown or used (pools do not survive a restart)",
                   (unsigned long long)rq->pool_entries[i], k->key_id);
            rc = SIGIL_E_NOT_FOUND;
        } else if (k->ps[j].ns != rq->n_parties ||
                   memcmp(k->ps[j].signers, rq->parties, rq->n_parties * sizeof *rq->parties)) {
            DETAIL(call, "presignature %llu was made by another signer set", (unsigned long long)rq->pool_entries[i]);
            rc = SIGIL_E_MISMATCH;
        }
        for (size_t l = 0; l < i && !rc; l++)
            if (rq->pool_entries[l] == rq->pool_entries[i]) {
                DETAIL(call, "presignature %llu named twice", (unsigned long long)rq->pool_entries[i]);
                rc = SIGIL_E_USED;
            }
        pos[i] = j;
    }
    if (!rc) {
        rc = seen_record(nd, rq->session_id.data, 0);
        if (rc == SIGIL_E_REPLAY)
            DETAIL(call, "session id already seen by this node");
    }
    if (rc) {
        free(pos);
        return rc;
    }
    /* take them out of the pool (consumed whatever happens next) */
    sigil_ecdsa_presig **ps = calloc(ni, sizeof *ps);
    if (!ps) {
        free(pos);
        return SIGIL_E_NOMEM;
    }
    for (size_t i = 0; i < ni; i++) {
        size_t j;
        for (j = 0; j < k->nps; j++)
            if (k->ps[j].id == rq->pool_entries[i])
                break;
        ps[i] = k->ps[j].ps;
        k->ps[j] = k->ps[--k->nps];
    }
    /* the presignatures are this call's alone now: the online shares and
     * the RESULT envelope are made without the node lock (held again on
     * return, as the caller expects) */
    pthread_mutex_unlock(&nd->mu);
    sigil_buf rb;
    rc = sigil_buf_init(&rb, SIGIL_ENV_MAX_BODY, 0);
    if (!rc) rc = sigil_buf_put_u16(&rb, k->scheme);
    if (!rc) rc = sigil_buf_put_string(&rb, k->key_id, strlen(k->key_id));
    if (!rc) rc = sigil_buf_put_u32(&rb, (uint32_t)ni);
    for (size_t i = 0; i < ni && !rc; i++) {
        sigil_buf sb;
        sigil_ecdsa_combiner comb;
        rc = sigil_buf_init(&sb, 4096, 0);
        if (!rc) rc = sigil_ecdsa_sign_share(ps[i], rq->items[i]->digest.data, &sb, &comb);
        if (!rc && memcmp(comb.pubkey, k->pk, 33) != 0)
            rc = SIGIL_E_MISMATCH;
        if (!rc) rc = audit_add(ab, ni, nd, call, k, rq->session_id.data, rq->parties, rq->n_parties,
                                rq->items[i]->digest.data, 32, sb.data, sb.size);
        if (!rc) rc = sigil_buf_put_u64(&rb, rq->pool_entries[i]);
        if (!rc) rc = sigil_buf_put_string(&rb, sb.data, sb.size);
        if (!rc) rc = sigil_env_ecdsa_combiner_put(&comb, &rb);
        sigil_buf_free(&sb);
    }
    for (size_t i = 0; i < ni; i++)
        sigil_ecdsa_presig_free(ps[i]);
    free(ps);
    free(pos);
    outbox res;
    memset(&res, 0, sizeof res);
    if (!rc) rc = outbox_init(&res, 1);
    if (!rc) rc = outbox_add(nd, &res, rq->session_id.data, 1, 0, SIGIL_ENV_RESULT, rb.data, rb.size, NULL);
    if (!rc) rc = pack_response(call, rq->session_id.data, 1, NULL, 1, &res);
    outbox_free(&res);
    sigil_buf_free(&rb);
    pthread_mutex_lock(&nd->mu);
    return rc;
}
/* ---- the FROST pool index (callers hold nd->mu) ---- */

static size_t pidx_slot(const keyrec *k, uint64_t id)
{
    uint64_t h = id * 0x9e3779b97f4a7c15ull; /* ids are sequential: spread them */
    return (size_t)(h >> 32) & (k->hcap - 1);
}

/* Position of entry id in k->pool, or SIZE_MAX. */
static size_t pidx_find(const keyrec *k, uint64_t id)
{
    if (!k->hcap || id == 0)
        return SIZE_MAX;
    for (size_t i = pidx_slot(k, id);; i = (i + 1) & (k->hcap - 1)) {
        if (k->hid[i] == id) {
            size_t pos = k->hpos[i];
            return pos < k->npool && k->pool[pos].id == id ? pos : SIZE_MAX;
        }
        if (k->hid[i] == 0)
            return SIZE_MAX;
    }
}

static void pidx_set(keyrec *k, uint64_t id, size_t pos)
{
    size_t i = pidx_slot(k, id);
    while (k->hid[i] != 0 && k->hid[i] != id)
        i = (i + 1) & (k->hcap - 1);
    k->hid[i] = id;
    k->hpos[i] = (uint32_t)pos;
}

static void pidx_del(keyrec *k, uint64_t id)
{
    size_t i = pidx_slot(k, id);
    while (k->hid[i] != id) {
        if (k->hid[i] == 0)
            return;
        i = (i + 1) & (k->hcap - 1);
    }
    /* backward-shift: move later members of the probe run into the hole */
    for (size_t j = (i + 1) & (k->hcap - 1); k->hid[j] != 0; j = (j + 1) & (k->hcap - 1)) {
        size_t home = pidx_slot(k, k->hid[j]);
        /* j's entry may fill hole i if its home is not in (i, j] (cyclic) */
        if (((j - home) & (k->hcap - 1)) >= ((j - i) & (k->hcap - 1))) {
            k->hid[i] = k->hid[j];
            k->hpos[i] = k->hpos[j];
            i = j;
        }
    }
    k->hid[i] = 0;
}

/* Make room in the index for n entries (rebuilt from k->pool). */
static int pidx_reserve(keyrec *k, size_t n)
{
    if (k->hcap >= 2 * n && k->hcap)
        return SIGIL_OK;
    size_t cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    uint64_t *hid = calloc(cap, sizeof *hid);
    uint32_t *hpos = calloc(cap, sizeof *hpos);
    if (!hid || !hpos) {
        free(hid);
        free(hpos);
        return SIGIL_E_NOMEM;
    }
    free(k->hid);
    free(k->hpos);
    k->hid = hid;
    k->hpos = hpos;
    k->hcap = cap;
    for (size_t i = 0; i < k->npool; i++)
        pidx_set(k, k->pool[i].id, i);
    return SIGIL_OK;
}

/* Take pool entry at position j out of the pool (swap with the last). */
static void pool_remove(keyrec *k, size_t j)
{
    pidx_del(k, k->pool[j].id);
    k->npool--;
    if (j != k->npool) {
        k->pool[j] = k->pool[k->npool];
        pidx_set(k, k->pool[j].id, j);
    }
}

static int id_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The id at or below which the oldest `drop` of n ids lie (ids are unique
 * and grow: (boot << 32) | seq). UINT64_MAX-free: drop is in 1..n. */
static int oldest_cutoff(const uint64_t *ids, size_t n, size_t drop, uint64_t *cut)
{
    uint64_t *t = malloc(n * sizeof *t);
    if (!t)
        return SIGIL_E_NOMEM;
    memcpy(t, ids, n * sizeof *t);
    qsort(t, n, sizeof *t, id_cmp);
    *cut = t[drop - 1];
    free(t);
    return SIGIL_OK;
}

/* Keep at most `keep` FROST nonces of key k: drop the oldest (never used,
 * so dropping is safe). Without this a coordinator that restarted, and so
 * forgot the entries it had been given, would leave the pool full for good
 * and RefillPool would return nothing. Called with nd->mu held. */
static int pool_evict_oldest(keyrec *k, size_t keep, size_t *dropped)
{
    *dropped = 0;
    if (k->npool <= keep)
        return SIGIL_OK;
    size_t drop = k->npool - keep;
    uint64_t cut, *ids = malloc(k->npool * sizeof *ids);
    if (!ids)
        return SIGIL_E_NOMEM;
    for (size_t i = 0; i < k->npool; i++)
        ids[i] = k->pool[i].id;
    int rc = oldest_cutoff(ids, k->npool, drop, &cut);
    free(ids);
    for (size_t j = k->npool; rc == SIGIL_OK && j-- > 0;)
        if (k->pool[j].id <= cut) {
            sigil_frost_nonce_free(k->pool[j].nonce);
            pool_remove(k, j); /* moves an already-examined entry into j */
            (*dropped)++;
        }
    return rc;
}

/* The same for ECDSA presignatures (presign_max per key). */
static int presig_evict_oldest(keyrec *k, size_t keep, size_t *dropped)
{
    *dropped = 0;
    if (k->nps <= keep)
        return SIGIL_OK;
    size_t drop = k->nps - keep, w = 0;
    uint64_t cut, *ids = malloc(k->nps * sizeof *ids);
    if (!ids)
        return SIGIL_E_NOMEM;
    for (size_t i = 0; i < k->nps; i++)
        ids[i] = k->ps[i].id;
    int rc = oldest_cutoff(ids, k->nps, drop, &cut);
    free(ids);
    if (rc)
        return rc;
    for (size_t i = 0; i < k->nps; i++) {
        if (k->ps[i].id <= cut) {
            sigil_ecdsa_presig_free(k->ps[i].ps);
            (*dropped)++;
        } else {
            k->ps[w++] = k->ps[i];
        }
    }
    k->nps = w;
    return SIGIL_OK;
}

/* FROST SIGN from the pool: one call. Called with nd->mu held, like every
 * session handler; the lock is held only for what needs it (breaker, pool
 * entries, session id, unseal slot) and released for the envelope checks
 * and the crypto, so a node signs on as many cores as it has handler
 * threads. It is held again on return. Nonces are taken out of the pool
 * under the lock before the share is computed: single use whatever the
 * interleaving. */
static int frost_sign(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq,
                      audit_batch *ab)
{
    int rc = check_not_halted(nd, call);
    if (rc)
        return rc;
    keyrec *k = key_find(nd, rq->key_id);
    if (!k) {
        DETAIL(call, "no key '%s' on this node", rq->key_id);
        return SIGIL_E_NOT_FOUND;
    }
    if ((uint16_t)rq->scheme != k->scheme) {
        DETAIL(call, "key '%s' is scheme %u, request says %d", k->key_id, k->scheme, rq->scheme);
        return SIGIL_E_MISMATCH;
    }
    sigil_frost_suite suite = (sigil_frost_suite)k->scheme;
    uint32_t self;
    rc = check_parties(nd, call, rq->parties, rq->n_parties, &self);
    if (rc)
        return rc;
    size_t np = rq->n_parties, others = np - 1, ni = rq->n_items;
    if (np < k->pub.t || np > k->pub.n) {
        DETAIL(call, "%zu signers for a %u-of-%u key", np, k->pub.t, k->pub.n);
        return SIGIL_E_THRESHOLD;
    }
    if (ni == 0 || ni > SIGIL_ENV_MAX_ITEMS || rq->n_pool_entries != ni || rq->n_inbound != ni * others) {
        DETAIL(call, "SIGN needs 1..%d items, one pool entry per item and %zu commitment envelopes per item",
               SIGIL_ENV_MAX_ITEMS, others);
        return SIGIL_E_INVALID;
    }
    for (size_t i = 0; i < ni; i++) {
        const Sigil__V1__SignItem *it = rq->items[i];
        int want_digest = suite == SIGIL_FROST_BIP340;
        if (!it || (want_digest && (it->payload_case != SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST || it->digest.len != 32)) ||
            (!want_digest && (it->payload_case != SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE || it->message.len > 65536))) {
            DETAIL(call, "item %zu: %s", i, want_digest ? "BIP-340 signs a 32-byte digest" : "this scheme signs a message (<= 64 KiB)");
            return SIGIL_E_INVALID;
        }
    }
    for (size_t i = 0; i < ni; i++)
        for (size_t l = 0; l < i; l++)
            if (rq->pool_entries[l] == rq->pool_entries[i]) {
                DETAIL(call, "pool entry %llu named twice", (unsigned long long)rq->pool_entries[i]);
                return SIGIL_E_USED;
            }

    /* the other signers' commitments, signed by them: checked without the
     * lock (envelope keys and peers are thread-safe, nothing is consumed) */
    sigil_buf *com = calloc(ni * np, sizeof *com);
    size_t *offs = calloc(ni * np + 1, sizeof *offs), *lens = calloc(ni * np + 1, sizeof *lens);
    sigil_frost_nonce **nonces = calloc(ni, sizeof *nonces);
    uint8_t(*own)[128] = calloc(ni, 128);
    size_t *ownlen = calloc(ni, sizeof *ownlen);
    sigil_buf bodies, rb;
    memset(&bodies, 0, sizeof bodies);
    memset(&rb, 0, sizeof rb);
    unseal_slot *slot = NULL;
    if (!com || !offs || !lens || !nonces || !own || !ownlen)
        rc = SIGIL_E_NOMEM;
    if (!rc) rc = sigil_buf_init(&bodies, SIGIL_BUF_MAX_LIMIT, 0);
    pthread_mutex_unlock(&nd->mu);
    for (size_t i = 0; i < ni && !rc; i++) {
        int seen_from[NODE_MAX_PEERS] = {0};
        for (size_t q = 0; q < others && !rc; q++) {
            const Sigil__V1__Envelope *e = rq->inbound[i * others + q];
            int idx = -1;
            sigil_buf b;
            rc = sigil_buf_init(&b, 4096, 0);
            if (!rc)
                rc = inbound_open(nd, call, e, NULL, 0, SIGIL_ENV_COMMITMENT, 0, rq->parties, np, &b, NULL, &idx);
            sigil_env_commitment c;
            if (!rc) {
                rc = sigil_env_commitment_decode(&c, b.data, b.size);
                if (rc)
                    DETAIL(call, "commitment from node %u malformed", e->from);
            }
            if (!rc && (c.scheme != k->scheme || strcmp(c.key_id, k->key_id))) {
                DETAIL(call, "commitment from node %u is for another key", e->from);
                rc = SIGIL_E_MISMATCH;
            }
            if (!rc && seen_from[idx]) {
                DETAIL(call, "item %zu: two commitments from node %u", i, e->from);
                rc = SIGIL_E_REPLAY;
            }
            if (!rc) {
                seen_from[idx] = 1;
                offs[i * np + idx] = bodies.size;
                lens[i * np + idx] = c.commitment_len;
                rc = sigil_buf_put(&bodies, c.commitment, c.commitment_len);
            }
            sigil_buf_free(&b);
        }
    }
    pthread_mutex_lock(&nd->mu);

    /* under the lock: breaker, the key still current, pool entries
     * present, session id burned, then the nonces leave the pool (consumed
     * whatever happens next) */
    if (!rc) rc = check_not_halted(nd, call);
    if (!rc && key_find(nd, rq->key_id) != k) {
        /* refreshed or retired while the envelopes were checked: its record
         * (and pool) is in the graveyard */
        DETAIL(call, "key '%s' was refreshed or retired during this request; retry", rq->key_id);
        rc = SIGIL_E_STATE;
    }
    for (size_t i = 0; i < ni && !rc; i++) {
        if (pidx_find(k, rq->pool_entries[i]) == SIZE_MAX) {
            DETAIL(call, "pool entry %llu of key '%s' unknown or used (pools do not survive a restart)",
                   (unsigned long long)rq->pool_entries[i], k->key_id);
            rc = SIGIL_E_NOT_FOUND;
        }
    }
    if (!rc && !(slot = slot_take(nd))) {
        DETAIL(call, "node busy: no unseal slot free");
        rc = SIGIL_E_UNAVAILABLE;
    }
    if (!rc) {
        rc = seen_record(nd, rq->session_id.data, 0);
        if (rc == SIGIL_E_REPLAY)
            DETAIL(call, "session id already seen by this node");
    }
    if (!rc) {
        for (size_t i = 0; i < ni; i++) {
            size_t j = pidx_find(k, rq->pool_entries[i]);
            nonces[i] = k->pool[j].nonce;
            memcpy(own[i], k->pool[j].commit, k->pool[j].clen);
            ownlen[i] = k->pool[j].clen;
            pool_remove(k, j);
        }
    }
    if (rc) {
        slot_put(nd, slot);
        goto out_locked;
    }
    pthread_mutex_unlock(&nd->mu);

    /* without the lock: unseal into this call's slot, the shares, the
     * RESULT envelope */
    sigil_keyshare ks;
    rc = key_unseal_into(nd, k, &slot->buf, slot->secret, &ks);
    if (rc)
        DETAIL(call, "cannot unseal the share of '%s': %s", k->key_id, sigil_strerror(rc));
    if (!rc) rc = sigil_buf_init(&rb, SIGIL_ENV_MAX_BODY, 0);
    if (!rc) rc = sigil_buf_put_u16(&rb, k->scheme);
    if (!rc) rc = sigil_buf_put_string(&rb, k->key_id, strlen(k->key_id));
    if (!rc) rc = sigil_buf_put_u32(&rb, (uint32_t)ni);
    for (size_t i = 0; i < ni && !rc; i++) {
        for (size_t q = 0; q < np; q++) {
            if (q == self)
                sigil_buf_view(&com[i * np + q], own[i], ownlen[i]);
            else
                sigil_buf_view(&com[i * np + q], bodies.data + offs[i * np + q], lens[i * np + q]);
        }
        const Sigil__V1__SignItem *it = rq->items[i];
        const uint8_t *msg = suite == SIGIL_FROST_BIP340 ? it->digest.data : it->message.data;
        size_t mlen = suite == SIGIL_FROST_BIP340 ? it->digest.len : it->message.len;
        sigil_frost_package *pkg = NULL;
        rc = sigil_frost_package_for_signer(suite, &ks, nonces[i], msg, mlen, &com[i * np], np, &pkg);
        uint8_t share[80], gr[SIGIL_POINT_MAX_LEN];
        size_t grlen = 0;
        sigil_buf sb;
        sigil_buf_init(&sb, sizeof share, 0);
        if (!rc) rc = sigil_frost_sign(suite, &ks, nonces[i], pkg, &sb);
        /* the group commitment R, reported so the coordinator can aggregate
         * without rebuilding the package (public) */
        if (!rc) rc = sigil_frost_package_group_commitment(pkg, gr, &grlen);
        sigil_frost_package_free(pkg);
        if (!rc) rc = audit_add(ab, ni, nd, call, k, rq->session_id.data, rq->parties, np, msg, mlen,
                                sb.data, sb.size);
        if (!rc) rc = sigil_buf_put_u64(&rb, rq->pool_entries[i]);
        if (!rc) rc = sigil_buf_put_string(&rb, sb.data, sb.size);
        if (!rc) rc = sigil_buf_put_string(&rb, gr, grlen);
        sigil_buf_free(&sb);
        if (rc)
            DETAIL(call, "item %zu: %s", i, sigil_strerror(rc));
    }
    sodium_memzero(slot->secret, sizeof *slot->secret);
    memset(&ks, 0, sizeof ks);
    for (size_t i = 0; i < ni; i++)
        sigil_frost_nonce_free(nonces[i]);
    outbox res;
    memset(&res, 0, sizeof res);
    if (!rc) rc = outbox_init(&res, 1);
    if (!rc) rc = outbox_add(nd, &res, rq->session_id.data, 1, 0, SIGIL_ENV_RESULT, rb.data, rb.size, NULL);
    if (!rc) rc = pack_response(call, rq->session_id.data, 1, NULL, 1, &res);
    outbox_free(&res);
    pthread_mutex_lock(&nd->mu);
    slot_put(nd, slot);
out_locked:
    sigil_buf_free(&rb);
    sigil_buf_free(&bodies);
    free(nonces);
    free(own);
    free(ownlen);
    free(offs);
    free(lens);
    free(com);
    return rc;
}

/* ------------------------------------------------------------- handlers */

static int h_start(void *ctx, sigil_rpc_call *call)
{
    node *nd = ctx;
    const Sigil__V1__StartSessionRequest *rq = (const void *)call->req;
    if (rq->session_id.len != SIGIL_ENV_SID_LEN) {
        DETAIL(call, "session_id must be %d bytes", SIGIL_ENV_SID_LEN);
        return SIGIL_E_ENCODING;
    }
    audit_batch ab = {NULL, 0};
    pthread_mutex_lock(&nd->mu);
    int rc;
    if (seen_has(nd, rq->session_id.data)) {
        DETAIL(call, "session id already seen by this node");
        rc = SIGIL_E_REPLAY;
    } else if (rq->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_DKG) {
        rc = check_not_halted(nd, call);
        if (!rc)
            rc = dkg_start(nd, call, rq);
    } else if (rq->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_SIGN) {
        if (rq->scheme >= 1 && rq->scheme <= 3) {
            rc = frost_sign(nd, call, rq, &ab);
        } else if ((int)rq->scheme == SIGIL_ENV_SCHEME_ECDSA) {
            rc = ecdsa_sign(nd, call, rq, &ab);
        } else {
            DETAIL(call, "SIGN for scheme %d is not supported by this node", rq->scheme);
            rc = SIGIL_E_VERSION;
        }
    } else if (rq->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_PRESIGN) {
        rc = presign_start(nd, call, rq);
    } else if (rq->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_IMPORT) {
        rc = check_not_halted(nd, call);
        if (!rc)
            rc = node_import_start(nd, call, rq); /* import.c */
    } else if (rq->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_BACKUP ||
               rq->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_RESTORE) {
        rc = check_not_halted(nd, call);
        if (!rc)
            rc = rq->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_BACKUP
                     ? node_backup_start(nd, call, rq) /* backup.c */
                     : node_restore_start(nd, call, rq);
    } else if (rq->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_REFRESH) {
        rc = refresh_start(nd, call, rq);
    } else {
        DETAIL(call, "session kind %d is not supported by this node", rq->kind);
        rc = SIGIL_E_VERSION;
    }
    pthread_mutex_unlock(&nd->mu);
    /* invariant 5: no share leaves before its node audit record is durable */
    if (!rc && ab.n && atomic_load(&nd->halted)) {
        /* halted while the shares were made: withheld (nonces stay consumed) */
        sigil_buf_reset(call->resp);
        rc = check_not_halted(nd, call);
    }
    if (!rc && ab.n) {
        int ar = sigil_audit_append(nd->audit, ab.e, ab.n, NULL);
        if (ar) {
            sigil_buf_reset(call->resp);
            DETAIL(call, "node audit log unavailable (%s): shares withheld", sigil_strerror(ar));
            rc = SIGIL_E_UNAVAILABLE;
        }
    }
    if (!rc && ab.n && atomic_load(&nd->halted)) {
        /* halted during the append: still withheld (the record stays) */
        sigil_buf_reset(call->resp);
        rc = check_not_halted(nd, call);
    }
    if (ab.e) {
        sodium_memzero(ab.e, ab.n * sizeof *ab.e);
        free(ab.e);
    }
    return rc;
}

static int h_round(void *ctx, sigil_rpc_call *call)
{
    node *nd = ctx;
    const Sigil__V1__RoundRequest *rq = (const void *)call->req;
    pthread_mutex_lock(&nd->mu);
    int rc;
    session *s = session_find(nd, rq->session_id.data, rq->session_id.len);
    if (!s && node_import_owns(rq->session_id.data, rq->session_id.len)) {
        rc = check_not_halted(nd, call);
        if (!rc)
            rc = node_import_round(nd, call, rq); /* import.c */
    } else if (!s) {
        DETAIL(call, "no open session with this id");
        rc = SIGIL_E_NOT_FOUND;
    } else if ((rc = check_not_halted(nd, call)) != SIGIL_OK) {
        /* a halted node takes no protocol step (the session stays as it is) */
    } else if (rq->round != s->round) {
        DETAIL(call, "session expects round %u, request is for round %u", s->round, rq->round);
        rc = rq->round < s->round ? SIGIL_E_REPLAY : SIGIL_E_STATE;
    } else if (s->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_PRESIGN) {
        rc = presign_round(nd, call, s, rq);
    } else if (s->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_REFRESH) {
        rc = refresh_round(nd, call, s, rq);
    } else {
        rc = dkg_round(nd, call, s, rq);
    }
    pthread_mutex_unlock(&nd->mu);
    return rc;
}

static int h_abort(void *ctx, sigil_rpc_call *call)
{
    node *nd = ctx;
    const Sigil__V1__AbortSessionRequest *rq = (const void *)call->req;
    pthread_mutex_lock(&nd->mu);
    session *s = session_find(nd, rq->session_id.data, rq->session_id.len);
    Sigil__V1__AbortSessionResponse r = SIGIL__V1__ABORT_SESSION_RESPONSE__INIT;
    r.existed = s != NULL;
    if (s)
        session_drop(nd, s);
    else
        r.existed = node_import_abort(rq->session_id.data, rq->session_id.len); /* import.c */
    pthread_mutex_unlock(&nd->mu);
    return sigil_rpc_pack(&r.base, call->resp);
}

/* RefillPool: the nonces are made outside the node lock (a large refill
 * must not stall signing); the lock is taken to reserve ids and to add the
 * entries, and the breaker is checked both times. */
static int h_refill(void *ctx, sigil_rpc_call *call)
{
    node *nd = ctx;
    const Sigil__V1__RefillPoolRequest *rq = (const void *)call->req;
    pthread_mutex_lock(&nd->mu);
    int rc = check_not_halted(nd, call);
    keyrec *k = rc ? NULL : key_find(nd, rq->key_id);
    if (!rc && !k) {
        DETAIL(call, "no key '%s' on this node", rq->key_id);
        rc = SIGIL_E_NOT_FOUND;
    }
    if (!rc && (uint16_t)rq->scheme != k->scheme) {
        DETAIL(call, "key '%s' is scheme %u", k->key_id, k->scheme);
        rc = SIGIL_E_MISMATCH;
    }
    if (!rc && k->scheme == SIGIL_ENV_SCHEME_ECDSA) {
        DETAIL(call, "ECDSA presignatures are made by PRESIGN sessions, not RefillPool");
        rc = SIGIL_E_INVALID;
    }
    size_t count = 0;
    uint64_t first = 0;
    if (!rc) {
        /* a full pool makes room by dropping its oldest entries (below) */
        count = rq->count;
        if (count > nd->cfg.pool_max) count = nd->cfg.pool_max;
        if (count > nd->cfg.refill_max) count = nd->cfg.refill_max;
        if (count > SIGIL_ENV_MAX_ITEMS) count = SIGIL_ENV_MAX_ITEMS; /* one signed batch */
        first = ((uint64_t)nd->boot << 32) | (nd->seq + 1u);
        nd->seq += (uint32_t)count; /* ids reserved: never reused even if dropped */
    }
    pthread_mutex_unlock(&nd->mu);
    if (rc)
        return rc;

    outbox o;
    memset(&o, 0, sizeof o);
    Sigil__V1__PoolEntry *pe = NULL, **pp = NULL;
    pool_entry *made = NULL;
    size_t nmade = 0;
    sigil_keyshare ks;
    memset(&ks, 0, sizeof ks);
    sigil_buf ubuf;
    memset(&ubuf, 0, sizeof ubuf);
    sigil_scalar *slot = NULL;
    if (count) {
        rc = outbox_init(&o, count);
        pe = calloc(count, sizeof *pe);
        pp = calloc(count, sizeof *pp);
        made = calloc(count, sizeof *made);
        slot = sodium_malloc(sizeof *slot);
        if (!rc && (!pe || !pp || !made || !slot)) rc = SIGIL_E_NOMEM;
        if (!rc) rc = sigil_buf_init(&ubuf, 4096, SIGIL_BUF_SECRET);
        sigil_buf *bodies = calloc(count, sizeof *bodies);
        if (!rc && !bodies) rc = SIGIL_E_NOMEM;
        if (!rc) rc = key_unseal_into(nd, k, &ubuf, slot, &ks);
        for (size_t i = 0; i < count && !rc; i++) {
            pool_entry *e = &made[i];
            sigil_buf cb;
            sigil_buf_init(&cb, sizeof e->commit, 0);
            rc = sigil_frost_commit((sigil_frost_suite)k->scheme, &ks, &e->nonce, &cb);
            if (!rc) {
                memcpy(e->commit, cb.data, cb.size);
                e->clen = cb.size;
                e->id = first + i;
                nmade++;
            }
            sigil_buf_free(&cb);
            if (!rc) rc = sigil_buf_init(&bodies[i], 512, 0);
            if (!rc) rc = sigil_env_commitment_encode(k->scheme, k->key_id, e->id, e->commit, e->clen, &bodies[i]);
        }
        /* one envelope signature for the whole refill */
        if (!rc) rc = outbox_add_commitments(nd, &o, bodies, count);
        if (bodies)
            for (size_t i = 0; i < count; i++)
                sigil_buf_free(&bodies[i]);
        free(bodies);
        if (slot) {
            sodium_memzero(slot, sizeof *slot);
            sodium_free(slot);
        }
        sigil_buf_free(&ubuf);
        memset(&ks, 0, sizeof ks);
    }
    size_t added = 0, avail = 0;
    pthread_mutex_lock(&nd->mu);
    if (!rc && (rc = check_not_halted(nd, call)) != SIGIL_OK) {
        /* halted meanwhile: the nonces are dropped */
    }
    if (!rc && count) {
        size_t dropped = 0;
        rc = pool_evict_oldest(k, nd->cfg.pool_max - nmade, &dropped);
        if (dropped)
            fprintf(stderr, "sigil-node: key '%s': pool full (pool_max %u): dropped the %zu oldest "
                    "unused nonces (a coordinator restarted?)\n", k->key_id, nd->cfg.pool_max, dropped);
        added = nmade;
        if (k->npool + added > k->cap) {
            size_t ncap = k->cap ? k->cap : 64;
            while (ncap < k->npool + added)
                ncap *= 2;
            pool_entry *np = realloc(k->pool, ncap * sizeof *np);
            if (!np)
                rc = SIGIL_E_NOMEM;
            else {
                k->pool = np;
                k->cap = ncap;
            }
        }
        if (!rc) rc = pidx_reserve(k, k->cap);
        for (size_t i = 0; !rc && i < added; i++) {
            pidx_set(k, made[i].id, k->npool);
            k->pool[k->npool++] = made[i];
            made[i].nonce = NULL;
            Sigil__V1__PoolEntry init = SIGIL__V1__POOL_ENTRY__INIT;
            pe[i] = init;
            pe[i].entry_id = made[i].id;
            pe[i].commitment = o.ptr[i];
            pp[i] = &pe[i];
        }
    }
    if (!rc)
        avail = k->npool;
    pthread_mutex_unlock(&nd->mu);
    for (size_t i = 0; made && i < count; i++)
        sigil_frost_nonce_free(made[i].nonce);
    if (!rc) {
        Sigil__V1__RefillPoolResponse r = SIGIL__V1__REFILL_POOL_RESPONSE__INIT;
        r.n_entries = added;
        r.entries = pp;
        r.pool_available = avail;
        rc = sigil_rpc_pack(&r.base, call->resp);
    }
    outbox_free(&o);
    free(pe);
    free(pp);
    free(made);
    return rc;
}

static int h_status(void *ctx, sigil_rpc_call *call)
{
    node *nd = ctx;
    const Sigil__V1__NodeStatusRequest *rq = (const void *)call->req;
    pthread_mutex_lock(&nd->mu);
    size_t nk = 0;
    for (keyrec *k = nd->keys; k; k = k->next)
        nk++;
    Sigil__V1__NodeKeyStatus *ks = calloc(nk ? nk : 1, sizeof *ks);
    Sigil__V1__NodeKeyStatus **kp = calloc(nk ? nk : 1, sizeof *kp);
    int rc = ks && kp ? SIGIL_OK : SIGIL_E_NOMEM;
    size_t i = 0;
    for (keyrec *k = nd->keys; k && !rc; k = k->next) {
        if (rq->key_id[0] && strcmp(rq->key_id, k->key_id))
            continue;
        Sigil__V1__NodeKeyStatus init = SIGIL__V1__NODE_KEY_STATUS__INIT;
        ks[i] = init;
        ks[i].key_id = k->key_id;
        ks[i].scheme = (Sigil__V1__Scheme)k->scheme;
        ks[i].party_id = k->party;
        ks[i].share_version = k->version;
        ks[i].pool_available = k->scheme == SIGIL_ENV_SCHEME_ECDSA ? k->nps : k->npool;
        ks[i].state = SIGIL__V1__KEY_STATE__KEY_STATE_ACTIVE;
        kp[i] = &ks[i];
        i++;
    }
    if (!rc) {
        Sigil__V1__NodeStatusResponse r = SIGIL__V1__NODE_STATUS_RESPONSE__INIT;
        r.node_id = nd->cfg.node_id;
        r.halted = atomic_load(&nd->halted);
        pthread_mutex_lock(&nd->bmu);
        r.halt_epoch = nd->epoch;
        pthread_mutex_unlock(&nd->bmu);
        r.n_keys = i;
        r.keys = kp;
        r.sessions_open = nd->nsessions;
        r.identity_public_key.data = nd->identity_pk;
        r.identity_public_key.len = 32;
        r.version = (char *)NODE_VERSION;
        r.uptime_seconds = (uint64_t)(time(NULL) - nd->started);
        uint8_t cert[SIGIL_ENV_CERT_LEN];
        if (sigil_env_key_cert(nd->ek, cert) == SIGIL_OK) {
            r.envelope_cert.data = cert;
            r.envelope_cert.len = sizeof cert;
        }
        rc = sigil_rpc_pack(&r.base, call->resp);
    }
    pthread_mutex_unlock(&nd->mu);
    free(ks);
    free(kp);
    return rc;
}

static int h_halt(void *ctx, sigil_rpc_call *call)
{
    node *nd = ctx;
    const Sigil__V1__HaltRequest *rq = (const void *)call->req;
    pthread_mutex_lock(&nd->bmu);
    int rc = SIGIL_OK;
    if (!atomic_load(&nd->halted)) {
        atomic_store(&nd->halted, 1); /* in memory first: fail closed even if the write fails */
        nd->epoch++;
        nd->halted_at_ms = now_ms();
        snprintf(nd->halted_by, sizeof nd->halted_by, "%s", call->peer->uri);
        snprintf(nd->reason, sizeof nd->reason, "%.200s", rq->reason ? rq->reason : "");
        for (char *p = nd->reason; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                *p = '?';
        rc = halt_save(nd);
        if (rc)
            DETAIL(call, "halted in memory, but the breaker state file could not be written: %s",
                   sigil_strerror(rc));
        fprintf(stderr, "sigil-node %u: HALTED (epoch %llu) by %s: %s\n", nd->cfg.node_id,
                (unsigned long long)nd->epoch, nd->halted_by, nd->reason);
    }
    if (!rc) {
        Sigil__V1__HaltResponse r = SIGIL__V1__HALT_RESPONSE__INIT;
        r.halted = 1;
        r.halt_epoch = nd->epoch;
        r.halted_at_unix_ms = nd->halted_at_ms;
        rc = sigil_rpc_pack(&r.base, call->resp);
    }
    pthread_mutex_unlock(&nd->bmu);
    return rc;
}

static int h_resume(void *ctx, sigil_rpc_call *call)
{
    node *nd = ctx;
    const Sigil__V1__ResumeRequest *rq = (const void *)call->req;
    pthread_mutex_lock(&nd->bmu);
    int rc = SIGIL_OK;
    if (atomic_load(&nd->halted)) {
        if (!nd->cfg.nofficers) {
            DETAIL(call, "no officer keys configured: this node cannot be resumed");
            rc = SIGIL_E_PERMISSION;
        }
        sigil_breaker_approval ap[SIGIL_BREAKER_MAX_OFFICERS];
        if (!rc && rq->n_approvals > SIGIL_BREAKER_MAX_OFFICERS)
            rc = SIGIL_E_TOO_LARGE;
        for (size_t i = 0; !rc && i < rq->n_approvals; i++) {
            ap[i].officer = rq->approvals[i]->officer;
            ap[i].signature = rq->approvals[i]->signature.data;
            ap[i].signature_len = rq->approvals[i]->signature.len;
        }
        sigil_breaker_policy pol = {nd->cfg.officers, nd->cfg.nofficers, nd->cfg.resume_k,
                                    nd->cfg.cluster_id, 3600};
        sigil_breaker_statement st;
        uint64_t now = (uint64_t)time(NULL);
        if (!rc) {
            rc = sigil_breaker_verify(&pol, rq->statement.data, rq->statement.len, ap,
                                      rq->n_approvals, "resume", now, nd->epoch, &st);
            if (rc)
                DETAIL(call, "resume refused: %s (need %u distinct valid officer approvals of a fresh statement)",
                       sigil_strerror(rc), nd->cfg.resume_k);
        }
        if (!rc) {
            rc = sigil_breaker_nonces_use(nd->nonces, st.nonce, st.expires_unix, now);
            if (rc)
                DETAIL(call, "resume refused: %s", rc == SIGIL_E_REPLAY ? "statement nonce already used: replay detected" : sigil_strerror(rc));
        }
        if (!rc) {
            atomic_store(&nd->halted, 0);
            rc = halt_save(nd);
            if (rc) {
                atomic_store(&nd->halted, 1);
                DETAIL(call, "breaker state file could not be written: %s; still halted", sigil_strerror(rc));
            } else {
                fprintf(stderr, "sigil-node %u: resumed (epoch %llu) by %zu approvals\n",
                        nd->cfg.node_id, (unsigned long long)nd->epoch, rq->n_approvals);
            }
        }
    }
    if (!rc) {
        Sigil__V1__ResumeResponse r = SIGIL__V1__RESUME_RESPONSE__INIT;
        r.halted = 0;
        r.halt_epoch = nd->epoch;
        rc = sigil_rpc_pack(&r.base, call->resp);
    }
    pthread_mutex_unlock(&nd->bmu);
    return rc;
}

static int h_admin_status(void *ctx, sigil_rpc_call *call)
{
    node *nd = ctx;
    char id[SIGIL_RPC_URI_MAX];
    snprintf(id, sizeof id, "sigil://node/%u", nd->cfg.node_id);
    pthread_mutex_lock(&nd->bmu);
    Sigil__V1__AdminStatusResponse r = SIGIL__V1__ADMIN_STATUS_RESPONSE__INIT;
    r.identity = id;
    r.halted = atomic_load(&nd->halted);
    r.halt_epoch = nd->epoch;
    r.halted_by = nd->halted_by;
    r.reason = nd->reason;
    r.halted_at_unix_ms = nd->halted_at_ms;
    r.approvals_required = nd->cfg.resume_k;
    r.officers = (uint32_t)nd->cfg.nofficers;
    r.cluster_id = nd->cfg.cluster_id;
    int rc = sigil_rpc_pack(&r.base, call->resp);
    pthread_mutex_unlock(&nd->bmu);
    return rc;
}

static int h_health(void *ctx, sigil_rpc_call *call)
{
    node *nd = ctx;
    pthread_mutex_lock(&nd->bmu);
    Sigil__V1__HealthResponse r = SIGIL__V1__HEALTH_RESPONSE__INIT;
    r.status = atomic_load(&nd->halted) ? SIGIL__V1__SERVING_STATUS__SERVING_STATUS_HALTED
                          : SIGIL__V1__SERVING_STATUS__SERVING_STATUS_SERVING;
    r.version = (char *)NODE_VERSION;
    int rc = sigil_rpc_pack(&r.base, call->resp);
    pthread_mutex_unlock(&nd->bmu);
    return rc;
}

/* ------------------------------------------------------------------ main */

static int mkdir_p(const char *p)
{
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return SIGIL_E_IO;
    return SIGIL_OK;
}

static int node_init(node *nd, char *err, size_t cap)
{
    node_config *c = &nd->cfg;
    pthread_mutex_init(&nd->mu, NULL);
    pthread_mutex_init(&nd->bmu, NULL);
    nd->seen_fd = -1;
    nd->started = time(NULL);
    nd->nslots = c->threads ? c->threads : 1;
    if (!(nd->slots = calloc(nd->nslots, sizeof *nd->slots)))
        return SIGIL_E_NOMEM;
    for (size_t i = 0; i < nd->nslots; i++) {
        nd->slots[i].secret = sodium_malloc(sizeof *nd->slots[i].secret);
        if (!nd->slots[i].secret ||
            sigil_buf_init(&nd->slots[i].buf, 4096, SIGIL_BUF_SECRET) != SIGIL_OK)
            return SIGIL_E_NOMEM;
    }
    snprintf(nd->path_halt, sizeof nd->path_halt, "%s/breaker.state", c->state_dir);
    snprintf(nd->path_seen, sizeof nd->path_seen, "%s/sessions.seen", c->state_dir);
    snprintf(nd->path_keys, sizeof nd->path_keys, "%s/keys", c->state_dir);
    char npath[NODE_PATH_MAX + 32];
    snprintf(npath, sizeof npath, "%s/resume.nonces", c->state_dir);
    int rc;
    if ((rc = mkdir_p(c->state_dir)) || (rc = mkdir_p(nd->path_keys))) {
        snprintf(err, cap, "cannot create state directory %.300s", c->state_dir);
        return rc;
    }
    sigil_file_clean_temps(nd->path_halt, NULL);
    sigil_file_clean_temps(npath, NULL);
    if ((rc = halt_load(nd)) || (rc = seen_load(nd)) || (rc = boot_next(nd)) ||
        (rc = sigil_breaker_nonces_open(&nd->nonces, npath))) {
        snprintf(err, cap, "state in %.300s unusable: %s", c->state_dir, sigil_strerror(rc));
        return rc;
    }
    sigil_hsm_config hc = {c->pkcs11_module, c->token_label, c->pin_file, NULL, 0};
    if ((rc = sigil_hsm_open(&nd->hsm, &hc))) {
        snprintf(err, cap, "HSM token '%s': %s", c->token_label, sigil_strerror(rc));
        return rc;
    }
    if ((rc = sigil_hsm_ed25519_pubkey(nd->hsm, SIGIL_HSM_IDENTITY_LABEL, nd->identity_pk))) {
        snprintf(err, cap, "identity key '%s' in token: %s", SIGIL_HSM_IDENTITY_LABEL, sigil_strerror(rc));
        return rc;
    }
    if ((rc = sigil_env_peers_new(&nd->peers)))
        return rc;
    int self_listed = 0;
    for (size_t i = 0; i < c->npeers; i++) {
        if (c->peer_ids[i] == c->node_id) {
            self_listed = 1;
            if (memcmp(c->peer_pks[i], nd->identity_pk, 32) != 0) {
                snprintf(err, cap, "node.%u in the config is not this token's identity key", c->node_id);
                return SIGIL_E_MISMATCH;
            }
        }
        if ((rc = sigil_env_peers_add(nd->peers, c->peer_ids[i], c->peer_pks[i])))
            return rc;
    }
    if (!self_listed) {
        if (c->npeers >= NODE_MAX_PEERS)
            return SIGIL_E_TOO_LARGE;
        c->peer_ids[c->npeers] = c->node_id;
        memcpy(c->peer_pks[c->npeers], nd->identity_pk, 32);
        c->npeers++;
        if ((rc = sigil_env_peers_add(nd->peers, c->node_id, nd->identity_pk)))
            return rc;
    }
    /* the envelope key, certified once by the HSM identity key */
    sigil_buf m;
    uint8_t sig[64];
    if ((rc = sigil_env_key_new(&nd->ek, c->node_id, (uint64_t)time(NULL))) ||
        (rc = sigil_buf_init(&m, 256, 0)))
        return rc;
    rc = sigil_env_key_cert_message(nd->ek, &m);
    if (!rc) rc = sigil_hsm_sign_ed25519(nd->hsm, SIGIL_HSM_IDENTITY_LABEL, m.data, m.size, sig);
    if (!rc) rc = sigil_env_key_set_cert(nd->ek, nd->identity_pk, sig);
    sigil_buf_free(&m);
    if (rc) {
        snprintf(err, cap, "certifying the envelope key: %s", sigil_strerror(rc));
        return rc;
    }
    char apath[NODE_PATH_MAX + 32], origin[128];
    snprintf(apath, sizeof apath, "%s/audit", c->state_dir);
    snprintf(origin, sizeof origin, "sigil-node/%u/%s", c->node_id, c->cluster_id);
    if ((rc = sigil_audit_signer_hsm(&nd->audit_signer, nd->hsm, SIGIL_HSM_IDENTITY_LABEL, origin))) {
        snprintf(err, cap, "audit checkpoint signer: %s", sigil_strerror(rc));
        return rc;
    }
    nd->audit_signer_set = 1;
    sigil_audit_config ac;
    memset(&ac, 0, sizeof ac);
    ac.backend = SIGIL_AUDIT_BACKEND_FILE;
    ac.path = apath;
    ac.origin = origin;
    ac.signer = &nd->audit_signer;
    if ((rc = sigil_audit_log_open(&ac, &nd->audit))) {
        snprintf(err, cap, "node audit log in %.300s: %s", apath, sigil_strerror(rc));
        return rc;
    }
    if ((rc = keys_load(nd))) {
        snprintf(err, cap, "loading keys from %.300s: %s", nd->path_keys, sigil_strerror(rc));
        return rc;
    }
    if ((rc = refresh_recover(nd))) {
        snprintf(err, cap, "cleaning superseded key files in %.300s: %s", nd->path_keys, sigil_strerror(rc));
        return rc;
    }
    return SIGIL_OK;
}

static void node_free(node *nd)
{
    while (nd->sessions)
        session_drop(nd, nd->sessions);
    while (nd->keys) {
        keyrec *k = nd->keys;
        nd->keys = k->next;
        key_free(k);
    }
    while (nd->graveyard) {
        keyrec *k = nd->graveyard;
        nd->graveyard = k->next;
        key_free(k);
    }
    sigil_audit_log_close(nd->audit);
    for (size_t i = 0; nd->slots && i < nd->nslots; i++) {
        sigil_buf_free(&nd->slots[i].buf);
        if (nd->slots[i].secret)
            sodium_free(nd->slots[i].secret);
    }
    free(nd->slots);
    if (nd->audit_signer_set)
        sigil_audit_signer_free(&nd->audit_signer);
    sigil_env_key_free(nd->ek);
    sigil_env_peers_free(nd->peers);
    sigil_breaker_nonces_free(nd->nonces);
    sigil_hsm_close(nd->hsm);
    if (nd->seen_fd >= 0)
        close(nd->seen_fd);
    free(nd->seen);
    free(nd->used);
    pthread_mutex_destroy(&nd->mu);
    pthread_mutex_destroy(&nd->bmu);
}

int main(int argc, char **argv)
{
    const char *cfgpath = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            cfgpath = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: sigil-node --config FILE   (see docs/modules/signer-node.md)\n");
            return 0;
        } else {
            fprintf(stderr, "sigil-node: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!cfgpath) {
        fprintf(stderr, "usage: sigil-node --config FILE\n");
        return 2;
    }
    if (sigil_mpc_init() != SIGIL_OK) {
        fprintf(stderr, "sigil-node: library init failed\n");
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    static node nd;
    char err[512] = "";
    int rc = node_config_load(&nd.cfg, cfgpath, err, sizeof err);
    if (!rc)
        rc = node_init(&nd, err, sizeof err);
    if (rc) {
        fprintf(stderr, "sigil-node: %s\n", err[0] ? err : sigil_strerror(rc));
        node_free(&nd);
        return 1;
    }
    sigil_rpc_authz *az = NULL;
    sigil_rpc_server *srv = NULL;
    int port = 0;
    rc = sigil_rpc_authz_new(&az);
    if (!rc) rc = sigil_rpc_authz_allow(az, "sigil://coordinator", "/sigil.v1.Node/*", "*");
    if (!rc) rc = sigil_rpc_authz_allow(az, "sigil://coordinator", "/sigil.v1.Admin/*", "*");
    if (!rc) rc = sigil_rpc_authz_allow(az, "sigil://officer/*", "/sigil.v1.Admin/*", "*");
    if (!rc) rc = sigil_rpc_authz_allow(az, "sigil://admin/*", "/sigil.v1.Admin/*", "*");
    sigil_rpc_server_config sc = {nd.cfg.listen, {nd.cfg.tls_ca, nd.cfg.tls_cert, nd.cfg.tls_key},
                                  az, 0, nd.cfg.threads};
    if (!rc) rc = sigil_rpc_server_new(&sc, &srv);
    struct {
        const char *m;
        const ProtobufCMessageDescriptor *d;
        sigil_rpc_handler h;
    } tab[] = {
        {SIGIL_RPC_NODE_START_SESSION, &sigil__v1__start_session_request__descriptor, h_start},
        {SIGIL_RPC_NODE_ROUND, &sigil__v1__round_request__descriptor, h_round},
        {SIGIL_RPC_NODE_ABORT_SESSION, &sigil__v1__abort_session_request__descriptor, h_abort},
        {SIGIL_RPC_NODE_REFILL_POOL, &sigil__v1__refill_pool_request__descriptor, h_refill},
        {SIGIL_RPC_NODE_STATUS, &sigil__v1__node_status_request__descriptor, h_status},
        {SIGIL_RPC_ADMIN_HALT, &sigil__v1__halt_request__descriptor, h_halt},
        {SIGIL_RPC_ADMIN_RESUME, &sigil__v1__resume_request__descriptor, h_resume},
        {SIGIL_RPC_ADMIN_STATUS, &sigil__v1__admin_status_request__descriptor, h_admin_status},
        {SIGIL_RPC_ADMIN_HEALTH, &sigil__v1__health_request__descriptor, h_health},
        {NODE_RPC_ADMIN_RETIRE, refresh_retire_descriptor, refresh_h_retire},
    };
    for (size_t i = 0; !rc && i < sizeof tab / sizeof tab[0]; i++)
        rc = sigil_rpc_server_add(srv, tab[i].m, tab[i].d, 0, tab[i].h, &nd);
    if (!rc) rc = sigil_rpc_server_start(srv, &port);
    if (rc) {
        fprintf(stderr, "sigil-node: server on %s: %s\n", nd.cfg.listen, sigil_strerror(rc));
        sigil_rpc_server_free(srv);
        sigil_rpc_authz_free(az);
        node_free(&nd);
        return 1;
    }
    char pf[NODE_PATH_MAX + 32], pv[32];
    snprintf(pf, sizeof pf, "%s/port", nd.cfg.state_dir);
    int pl = snprintf(pv, sizeof pv, "%d\n", port);
    sigil_file_write_atomic(pf, pv, (size_t)pl, 0644);
    fprintf(stderr, "sigil-node %u: serving on port %d%s\n", nd.cfg.node_id, port,
            atomic_load(&nd.halted) ? " (HALTED)" : "");
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "sigil-node %u: signal %d, shutting down\n", nd.cfg.node_id, sig);
    sigil_rpc_server_free(srv);
    sigil_rpc_authz_free(az);
    node_free(&nd);
    return 0;
}

/* ---- for import.c (declared in node.h); callers hold nd->mu ---- */

const node_config *node_cfg(const node *nd)
{
    return &nd->cfg;
}

const sigil_env_key *node_env_key(const node *nd)
{
    return nd->ek;
}

int node_has_key(node *nd, const char *key_id)
{
    return key_find(nd, key_id) != NULL || key_retired(nd, key_id);
}

int node_parties(node *nd, sigil_rpc_call *call, const uint32_t *p, size_t n, uint32_t *self)
{
    return check_parties(nd, call, p, n, self);
}

int node_session_burn(node *nd, const uint8_t sid[32])
{
    if (nd->nsessions >= MAX_SESSIONS)
        return SIGIL_E_TOO_LARGE;
    return seen_record(nd, sid, 1);
}

int node_install_frost(node *nd, const char *key_id, uint16_t scheme, const sigil_keyshare *ks,
                       const uint8_t *pkg, size_t pkglen, uint8_t *pk, size_t *pklen)
{
    return node_install_frost_version(nd, key_id, scheme, SHARE_VERSION, ks, pkg, pkglen, pk, pklen);
}

int node_install_frost_version(node *nd, const char *key_id, uint16_t scheme, uint32_t version,
                               const sigil_keyshare *ks, const uint8_t *pkg, size_t pkglen,
                               uint8_t *pk, size_t *pklen)
{
    sigil_buf sec, pubb;
    keyrec *k = NULL;
    uint8_t *sp = NULL, h[32];
    sigil_buf_view(&pubb, pkg, pkglen);
    int rc = sigil_buf_init(&sec, FROST_SEALED_LEN, SIGIL_BUF_SECRET);
    if (!rc) rc = sigil_buf_put_u8(&sec, 1);
    if (!rc) rc = sigil_buf_reserve(&sec, 32, &sp);
    if (!rc) sigil_scalar_serialize(ks->g, sp, ks->secret);
    crypto_hash_sha256(h, pkg, pkglen);
    if (!rc) rc = sigil_buf_put(&sec, h, 32);
    if (!rc && (key_find(nd, key_id) || key_retired(nd, key_id))) rc = SIGIL_E_EXISTS;
    if (!rc) rc = key_store_version(nd, key_id, scheme, version, ".key", &sec, &pubb, &k);
    sigil_buf_free(&sec);
    if (rc)
        return rc;
    memcpy(pk, k->pk, k->pklen);
    *pklen = k->pklen;
    k->next = nd->keys;
    nd->keys = k;
    return SIGIL_OK;
}

sigil_env_peers *node_env_peers(node *nd)
{
    return nd->peers;
}

int node_respond_bcast(node *nd, sigil_rpc_call *call, const uint8_t sid[32], uint32_t round,
                       const uint8_t *body, size_t n)
{
    outbox o;
    int rc = outbox_init(&o, 1);
    if (!rc) rc = outbox_add(nd, &o, sid, round, 0, SIGIL_ENV_DATA, body, n, NULL);
    if (!rc) rc = pack_response(call, sid, round, &o, 0, NULL);
    outbox_free(&o);
    return rc;
}

int node_install_ecdsa(node *nd, const char *key_id, const sigil_buf *share,
                       const uint8_t *pkg, size_t pkglen, uint8_t *pk, size_t *pklen)
{
    sigil_buf pubb;
    keyrec *k = NULL;
    sigil_buf_view(&pubb, pkg, pkglen);
    if (key_find(nd, key_id) || key_retired(nd, key_id))
        return SIGIL_E_EXISTS;
    int rc = key_store(nd, key_id, SIGIL_ENV_SCHEME_ECDSA, share, &pubb, &k);
    if (rc)
        return rc;
    memcpy(pk, k->pk, k->pklen);
    *pklen = k->pklen;
    k->next = nd->keys;
    nd->keys = k;
    return SIGIL_OK;
}

int node_respond_pairwise(node *nd, sigil_rpc_call *call, const uint8_t sid[32], uint32_t round,
                          size_t count, const uint32_t *to, const sigil_buf *bodies,
                          const uint8_t (*box)[32])
{
    outbox o;
    int rc = outbox_init(&o, count);
    for (size_t i = 0; i < count && !rc; i++)
        rc = outbox_add(nd, &o, sid, round, to[i], SIGIL_ENV_DATA, bodies[i].data, bodies[i].size,
                        box[i]);
    if (!rc) rc = pack_response(call, sid, round, &o, 0, NULL);
    outbox_free(&o);
    return rc;
}

int node_key_unseal_frost(node *nd, const char *key_id, sigil_buf *buf, sigil_scalar *slot,
                          sigil_keyshare *out, uint16_t *scheme, uint32_t *version)
{
    keyrec *k = key_find(nd, key_id);
    if (!k)
        return SIGIL_E_NOT_FOUND;
    if (k->scheme == SIGIL_ENV_SCHEME_ECDSA)
        return SIGIL_E_VERSION;
    *scheme = k->scheme;
    *version = k->version;
    return key_unseal_into(nd, k, buf, slot, out);
}

int node_identity_sign(node *nd, const uint8_t *msg, size_t n, uint8_t sig[64])
{
    return sigil_hsm_sign_ed25519(nd->hsm, SIGIL_HSM_IDENTITY_LABEL, msg, n, sig);
}

int node_respond_result(node *nd, sigil_rpc_call *call, const uint8_t sid[32], uint32_t round,
                        const uint8_t *body, size_t n)
{
    outbox res;
    int rc = outbox_init(&res, 1);
    if (!rc) rc = outbox_add(nd, &res, sid, round, 0, SIGIL_ENV_RESULT, body, n, NULL);
    if (!rc) rc = pack_response(call, sid, round, NULL, 1, &res);
    outbox_free(&res);
    return rc;
}

int node_audit_record(node *nd, const sigil_audit_entry *e)
{
    sigil_audit_entry x = *e;
    x.party = (uint16_t)nd->cfg.node_id;
    return sigil_audit_append(nd->audit, &x, 1, NULL);
}
