/*
 * The auth plugin's two per-worker caches (cache.c). Plain data structures:
 * no host, no I/O, no locking (each worker owns its own caches and uses
 * them from its loop only).
 *
 *   auth_tcache   verified tokens: SHA-256(token) -> principal, so that a
 *                 token seen again skips the signature check. Entries are
 *                 good until the token's exp and until the next flush (a
 *                 key set changed).
 *   auth_rcache   revocation verdicts: uid -> what accounts:lookup said
 *                 (found, disabled, validSince), for a fixed time, so that
 *                 check_revoked does not call Google on every request.
 *
 * Both are direct-mapped (one slot per hash value): bounded memory, O(1),
 * no list to maintain; a collision simply evicts.
 */
#ifndef AUTH_CACHE_H
#define AUTH_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/auth.h>

typedef struct auth_tcache auth_tcache;
typedef struct auth_rcache auth_rcache;

/* What accounts:lookup said about a user. */
typedef struct auth_user_status {
    int is_found;
    int is_disabled;
    int64_t valid_since; /* Unix seconds; 0 when absent */
} auth_user_status;

/* ---- verified tokens -------------------------------------------------- */

/* A cache of n_slots entries (n_slots > 0), or NULL when out of memory
 * (or when OpenSSL has no SHA-256). Free with auth_tcache_free. */
auth_tcache *auth_tcache_new(size_t n_slots);

/* Frees c and every principal it holds. c may be NULL. */
void auth_tcache_free(auth_tcache *c);

/* The principal cached for token (len bytes) and is_cookie, if it was
 * verified since the last flush and now (Unix s) is before its exp: a copy
 * in one malloc'd block that the caller owns (free with free()). NULL on a
 * miss, when c is NULL, or when out of memory. Counts a hit or a miss. */
lx_principal *auth_tcache_get(auth_tcache *c, const char *token, size_t len, int is_cookie,
                              int64_t now);

/* Remembers that token (len bytes, is_cookie) verified as p. p is copied
 * (the caller keeps its own); the slot's previous entry is dropped. Does
 * nothing when c is NULL or out of memory (the cache is only a shortcut). */
void auth_tcache_put(auth_tcache *c, const char *token, size_t len, int is_cookie,
                     const lx_principal *p);

/* Makes every entry stale (the keys they were verified with changed).
 * c may be NULL. */
void auth_tcache_flush(auth_tcache *c);

/* The hits and misses counted by auth_tcache_get since c was made. */
void auth_tcache_stats(const auth_tcache *c, unsigned long *n_hits, unsigned long *n_misses);

/* ---- revocation verdicts ---------------------------------------------- */

/* A cache of n_slots entries (n_slots > 0) that keeps each verdict for
 * ttl_ms milliseconds (monotonic clock), or NULL when out of memory. Free
 * with auth_rcache_free. */
auth_rcache *auth_rcache_new(size_t n_slots, int64_t ttl_ms);

/* Frees c and every uid it holds. c may be NULL. */
void auth_rcache_free(auth_rcache *c);

/* Returns 1 and copies into *out the verdict for uid looked up less than
 * ttl_ms ago; returns 0 on a miss or when c is NULL. */
int auth_rcache_get(const auth_rcache *c, const char *uid, auth_user_status *out);

/* Remembers the verdict s for uid (both copied), starting its ttl now. The
 * slot's previous entry is dropped. Does nothing when c is NULL or out of
 * memory. */
void auth_rcache_put(auth_rcache *c, const char *uid, const auth_user_status *s);

#endif
