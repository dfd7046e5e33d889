/*
 * CORS decisions of the core (core/cors.c), used by core/request.c: which
 * Origin is allowed, and the answer to a browser's preflight.
 *
 * Runs on a worker's loop only. The refused origins already logged are
 * remembered per process (a worker), at most LX_CORS_LOGGED_MAX of them.
 */
#ifndef LX_CORS_H
#define LX_CORS_H

#include <event2/keyvalq_struct.h>

#include "conf.h"
#include "router.h"

#define LX_CORS_LOGGED_MAX 64

/* origin (the request's Origin header, may be NULL) when server.cors_origins
 * allows it, else NULL. A refused origin is logged at warn the first time
 * this process sees it (a browser on it cannot read any answer). */
const char *lx_cors_allowed(const lx_server_conf *sc, const char *origin, const char *req_id);

/* Whether in is a CORS preflight (OPTIONS carrying Access-Control-Request-
 * Method); if so, adds to out the Access-Control-Allow-Methods (the path's
 * methods when they include the one asked for, else every method lexiaid
 * routes, so that the real request reaches its real 404/405/400),
 * -Allow-Headers (server.cors_headers) and -Max-Age, and Allow for a path
 * with routes. The caller answers 204; origin must be allowed. */
int lx_cors_preflight(const struct evkeyvalq *in, struct evkeyvalq *out, const lx_server_conf *sc,
                      const lx_router *router, const char *path);

#endif
