/*
 * The dispatch table's router: method-aware matching of request paths
 * against patterns made of literal and {param} segments. Pure data
 * structure, no I/O; fuzzed by tests/fuzz/fuzz_router.c.
 *
 * Matching rules:
 * - A path is split on '/'; each segment is percent-decoded on its own. An
 *   encoded slash ("%2F") is LX_ROUTE_BAD_PATH: a decoded value never holds
 *   a '/', so "..%2F..%2Fetc" cannot reach a handler as one value.
 * - Literal segments win over {param} segments at the same depth; the
 *   matcher backtracks, so /a/{x}/c and /a/b/d both match what they should.
 * - "." and ".." segments, "%00", bad percent escapes, and paths not
 *   starting with '/' are LX_ROUTE_BAD_PATH (the core answers 400).
 * - A trailing slash is significant except on "/" itself.
 * - HEAD matches a GET route when no HEAD route exists.
 */
#ifndef LX_CORE_ROUTER_H
#define LX_CORE_ROUTER_H

#include <stddef.h>

#define LX_ROUTER_MAX_PARAMS 8
#define LX_ROUTER_MAX_PATH 4096

typedef struct lx_router lx_router;

typedef enum lx_route_status {
    LX_ROUTE_FOUND = 0,
    LX_ROUTE_NOT_FOUND = 1,
    LX_ROUTE_METHOD_NOT_ALLOWED = 2, /* path matches, method does not */
    LX_ROUTE_BAD_PATH = 3,
} lx_route_status;

typedef struct lx_route_match {
    void *data;                     /* what lx_router_add was given */
    const char *pattern;            /* borrowed from the router */
    size_t n_params;
    const char *names[LX_ROUTER_MAX_PARAMS];  /* borrowed from the router */
    const char *values[LX_ROUTER_MAX_PARAMS]; /* point into buf */
    char buf[LX_ROUTER_MAX_PATH];   /* decoded values live here */
} lx_route_match;

lx_router *lx_router_new(void);
void lx_router_free(lx_router *r);

/* Adds a route. `method` is upper case; `pattern` starts with '/', its
 * segments are literals (any bytes but '/', '{', '}') or "{name}" with
 * name [A-Za-z_][A-Za-z0-9_]*, at most LX_ROUTER_MAX_PARAMS of them, no
 * name twice. `data` is borrowed. Returns 0, LX_EINVAL (bad pattern or
 * method; message in err), LX_EEXIST (same method and same pattern shape,
 * whatever the param names; message names the pattern), LX_ENOMEM. */
int lx_router_add(lx_router *r, const char *method, const char *pattern, void *data, char *err,
                  size_t errlen);

/* Matches `path` (the raw, still percent-encoded path, without '?query')
 * for `method`. On LX_ROUTE_FOUND fills m. On LX_ROUTE_METHOD_NOT_ALLOWED
 * writes the allowed methods, comma-separated in a fixed order ("GET,
 * HEAD, POST"), into allow (HEAD is listed when GET is). */
lx_route_status lx_router_match(const lx_router *r, const char *method, const char *path,
                                lx_route_match *m, char *allow, size_t allowlen);

/* Writes the methods allowed for path into allow as above; returns the
 * number of methods (0 when no route matches the path). Used by CORS
 * preflight and OPTIONS. */
int lx_router_allowed(const lx_router *r, const char *path, char *allow, size_t allowlen);

/* Decodes %XX escapes of a path segment (not '+'); LX_EINVAL on a bad
 * escape or a decoded NUL. out needs len+1 bytes. Exposed for tests. */
int lx_url_decode(const char *in, size_t len, char *out, size_t *outlen);

#endif
