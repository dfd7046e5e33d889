/*
 * The verified-token cache and the revocation-verdict cache of one worker.
 * See cache.h for what each keeps and for the contracts. Nothing here
 * knows about requests, the host or the configuration: the caller passes
 * the token, the uid and the clock (for tokens) in, and owns the caches.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cache.h"

/* A copy of p in one malloc'd block (free with free()), or NULL. */
static lx_principal *auth_principal_dup(const lx_principal *p)
{
    lx_principal tmp = *p;
    const char **fields[] = {&tmp.uid,     &tmp.email,        &tmp.name,
                             &tmp.picture, &tmp.phone_number, &tmp.sign_in_provider,
                             &tmp.tenant,  &tmp.claims_json,  &tmp.issuer};
    size_t n_fields = sizeof(fields) / sizeof(fields[0]);
    size_t total = sizeof(lx_principal);
    lx_principal *q;
    char *at;

    for (size_t i = 0; i < n_fields; i++)
        if (*fields[i] != NULL)
            total += strlen(*fields[i]) + 1;
    q = malloc(total);
    if (q == NULL)
        return NULL;
    at = (char *)(q + 1);
    for (size_t i = 0; i < n_fields; i++) {
        if (*fields[i] != NULL) {
            size_t len = strlen(*fields[i]) + 1;
            memcpy(at, *fields[i], len);
            *fields[i] = at;
            at += len;
        }
    }
    tmp.struct_size = sizeof(lx_principal);
    *q = tmp;
    return q;
}

/* ------------------------------------------------------------------------ */
/* Verified tokens                                                          */

typedef struct auth_tentry {
    unsigned char sha[32];
    uint64_t generation;
    int is_cookie;
    lx_principal *p; /* owned; NULL when empty */
} auth_tentry;

struct auth_tcache {
    EVP_MD *sha256;      /* fetched once: EVP_sha256() is looked up on every digest */
    uint64_t generation; /* grows on every flush: older entries are stale */
    unsigned long n_hits, n_misses;
    size_t n;
    auth_tentry e[];
};

auth_tcache *auth_tcache_new(size_t n_slots)
{
    auth_tcache *c = calloc(1, sizeof(*c) + n_slots * sizeof(auth_tentry));
    if (c == NULL)
        return NULL;
    c->n = n_slots;
    if ((c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void auth_tcache_free(auth_tcache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->e[i].p);
    EVP_MD_free(c->sha256);
    free(c);
}

static int auth_token_sha(const auth_tcache *c, const char *token, size_t len,
                          unsigned char sha[32])
{
    unsigned int sha_len = 0;
    return EVP_Digest(token, len, sha, &sha_len, c->sha256, NULL) == 1 && sha_len == 32 ? 0 : -1;
}

static auth_tentry *auth_tcache_slot(auth_tcache *c, const unsigned char sha[32])
{
    uint64_t h;
    memcpy(&h, sha, sizeof(h));
    return &c->e[h % c->n];
}

lx_principal *auth_tcache_get(auth_tcache *c, const char *token, size_t len, int is_cookie,
                              int64_t now)
{
    unsigned char sha[32];
    auth_tentry *e;

    if (c == NULL || auth_token_sha(c, token, len, sha) != 0)
        return NULL;
    e = auth_tcache_slot(c, sha);
    if (e->p != NULL && e->generation == c->generation && e->is_cookie == is_cookie &&
        memcmp(e->sha, sha, sizeof(sha)) == 0 && now < e->p->exp) {
        c->n_hits++;
        return auth_principal_dup(e->p);
    }
    c->n_misses++;
    return NULL;
}

void auth_tcache_put(auth_tcache *c, const char *token, size_t len, int is_cookie,
                     const lx_principal *p)
{
    unsigned char sha[32];
    auth_tentry *e;
    lx_principal *copy;

    if (c == NULL || auth_token_sha(c, token, len, sha) != 0)
        return;
    copy = auth_principal_dup(p);
    if (copy == NULL)
        return;
    e = auth_tcache_slot(c, sha);
    free(e->p);
    memcpy(e->sha, sha, sizeof(sha));
    e->generation = c->generation;
    e->is_cookie = is_cookie;
    e->p = copy;
}

void auth_tcache_flush(auth_tcache *c)
{
    /* Entries are left in place and freed when their slot is reused. */
    if (c != NULL)
        c->generation++;
}

void auth_tcache_stats(const auth_tcache *c, unsigned long *n_hits, unsigned long *n_misses)
{
    *n_hits = c->n_hits;
    *n_misses = c->n_misses;
}

/* ------------------------------------------------------------------------ */
/* Revocation verdicts                                                      */

typedef struct auth_rentry {
    char *uid;     /* owned; NULL when empty */
    int64_t at_ms; /* when it was looked up (monotonic) */
    auth_user_status status;
} auth_rentry;

struct auth_rcache {
    int64_t ttl_ms;
    size_t n;
    auth_rentry e[];
};

/* Monotonic milliseconds: a verdict's age must not jump with the wall clock. */
static int64_t auth_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

auth_rcache *auth_rcache_new(size_t n_slots, int64_t ttl_ms)
{
    auth_rcache *c = calloc(1, sizeof(*c) + n_slots * sizeof(auth_rentry));
    if (c != NULL) {
        c->n = n_slots;
        c->ttl_ms = ttl_ms;
    }
    return c;
}

void auth_rcache_free(auth_rcache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->e[i].uid);
    free(c);
}

static size_t auth_rcache_index(const auth_rcache *c, const char *uid)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *s = (const unsigned char *)uid; *s != '\0'; s++)
        h = (h ^ *s) * 1099511628211ull;
    return (size_t)(h % c->n);
}

int auth_rcache_get(const auth_rcache *c, const char *uid, auth_user_status *out)
{
    const auth_rentry *e;

    if (c == NULL)
        return 0;
    e = &c->e[auth_rcache_index(c, uid)];
    if (e->uid != NULL && strcmp(e->uid, uid) == 0 && auth_now_ms() - e->at_ms < c->ttl_ms) {
        *out = e->status;
        return 1;
    }
    return 0;
}

void auth_rcache_put(auth_rcache *c, const char *uid, const auth_user_status *s)
{
    auth_rentry *e;
    char *copy;

    if (c == NULL || (copy = strdup(uid)) == NULL)
        return;
    e = &c->e[auth_rcache_index(c, uid)];
    free(e->uid);
    e->uid = copy;
    e->at_ms = auth_now_ms();
    e->status = *s;
}
