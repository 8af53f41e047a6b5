/* Idempotency cache: (caller identity, request id) -> (request hash, result).
 * Bounded: a FIFO of at most `capacity` entries, the oldest evicted first
 * (pending entries are never evicted; when every entry is pending the new
 * request is refused with SIGIL_E_NOMEM -> RESOURCE_EXHAUSTED). Lookup by
 * an open hash table over SHA-256(identity || 0 || request id). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sigil/coord.h"
#include "sigil/err.h"

typedef struct idem_entry {
    uint8_t key[32];
    uint8_t req_hash[32];
    int done;
    uint8_t *resp;
    size_t len;
    struct idem_entry *next;            /* hash chain */
    struct idem_entry *fifo_next;       /* insertion order */
} idem_entry;

struct sigil_coord_idem {
    pthread_mutex_t mu;
    idem_entry **buckets;
    size_t nbuckets, capacity, count;
    idem_entry *head, *tail;            /* FIFO: head = oldest */
};

static void entry_key(uint8_t out[32], const char *identity, const uint8_t *id, size_t idlen)
{
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)identity, strlen(identity) + 1);
    crypto_hash_sha256_update(&h, id, idlen);
    crypto_hash_sha256_final(&h, out);
}

int sigil_coord_idem_new(size_t capacity, sigil_coord_idem **out)
{
    sigil_coord_idem *c;
    if (!out || capacity < 1)
        return SIGIL_E_INVALID;
    c = calloc(1, sizeof *c);
    if (!c)
        return SIGIL_E_NOMEM;
    c->nbuckets = 16;
    while (c->nbuckets < capacity * 2)
        c->nbuckets <<= 1;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return SIGIL_E_NOMEM;
    }
    c->capacity = capacity;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return SIGIL_OK;
}

void sigil_coord_idem_free(sigil_coord_idem *c)
{
    if (!c)
        return;
    for (idem_entry *e = c->head, *n; e; e = n) {
        n = e->fifo_next;
        free(e->resp);
        free(e);
    }
    pthread_mutex_destroy(&c->mu);
    free(c->buckets);
    free(c);
}

static idem_entry **slot(sigil_coord_idem *c, const uint8_t key[32])
{
    size_t b;
    memcpy(&b, key, sizeof b);
    idem_entry **p = &c->buckets[b & (c->nbuckets - 1)];
    while (*p && memcmp((*p)->key, key, 32))
        p = &(*p)->next;
    return p;
}

static void unlink_entry(sigil_coord_idem *c, idem_entry *e)
{
    idem_entry **p = slot(c, e->key);
    if (*p == e)
        *p = e->next;
    idem_entry **f = &c->head, *prev = NULL;
    while (*f && *f != e) {
        prev = *f;
        f = &(*f)->fifo_next;
    }
    if (*f == e) {
        *f = e->fifo_next;
        if (c->tail == e)
            c->tail = prev;
    }
    c->count--;
    free(e->resp);
    free(e);
}

/* Evict the oldest finished entry (pending ones are kept). */
static int evict_one(sigil_coord_idem *c)
{
    for (idem_entry *e = c->head; e; e = e->fifo_next)
        if (e->done) {
            unlink_entry(c, e);
            return 1;
        }
    return 0;
}

int sigil_coord_idem_begin(sigil_coord_idem *c, const char *identity, const uint8_t *request_id,
                           size_t idlen, const uint8_t req_hash[32], sigil_buf *resp)
{
    uint8_t key[32];
    int rc;
    if (!c || !identity || !request_id || !req_hash)
        return SIGIL_E_INVALID;
    entry_key(key, identity, request_id, idlen);
    pthread_mutex_lock(&c->mu);
    idem_entry **p = slot(c, key), *e = *p;
    if (e) {
        if (!sigil_memeq(e->req_hash, req_hash, 32))
            rc = SIGIL_E_EXISTS;
        else if (!e->done)
            rc = SIGIL_COORD_IDEM_BUSY;
        else {
            rc = resp ? sigil_buf_put(resp, e->resp, e->len) : SIGIL_OK;
            if (rc == SIGIL_OK)
                rc = SIGIL_COORD_IDEM_DONE;
        }
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    if (c->count >= c->capacity && !evict_one(c)) {
        pthread_mutex_unlock(&c->mu);
        return SIGIL_E_NOMEM;
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&c->mu);
        return SIGIL_E_NOMEM;
    }
    memcpy(e->key, key, 32);
    memcpy(e->req_hash, req_hash, 32);
    p = slot(c, key); /* eviction may have changed the chain */
    *p = e;
    if (c->tail)
        c->tail->fifo_next = e;
    else
        c->head = e;
    c->tail = e;
    c->count++;
    pthread_mutex_unlock(&c->mu);
    return SIGIL_COORD_IDEM_NEW;
}

int sigil_coord_idem_finish(sigil_coord_idem *c, const char *identity, const uint8_t *request_id,
                            size_t idlen, const uint8_t *resp, size_t len)
{
    uint8_t key[32];
    int rc = SIGIL_E_NOT_FOUND;
    if (!c || !identity || !request_id || (!resp && len))
        return SIGIL_E_INVALID;
    entry_key(key, identity, request_id, idlen);
    pthread_mutex_lock(&c->mu);
    idem_entry *e = *slot(c, key);
    if (e && !e->done) {
        e->resp = malloc(len ? len : 1);
        if (!e->resp) {
            rc = SIGIL_E_NOMEM;
        } else {
            if (len)
                memcpy(e->resp, resp, len);
            e->len = len;
            e->done = 1;
            rc = SIGIL_OK;
        }
    } else if (e) {
        rc = SIGIL_E_STATE;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void sigil_coord_idem_drop(sigil_coord_idem *c, const char *identity, const uint8_t *request_id,
                           size_t idlen)
{
    uint8_t key[32];
    if (!c || !identity || !request_id)
        return;
    entry_key(key, identity, request_id, idlen);
    pthread_mutex_lock(&c->mu);
    idem_entry *e = *slot(c, key);
    if (e && !e->done)
        unlink_entry(c, e);
    pthread_mutex_unlock(&c->mu);
}

size_t sigil_coord_idem_count(const sigil_coord_idem *c)
{
    return c ? c->count : 0;
}
