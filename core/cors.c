/*
 * CORS: allowed origins and preflights (core/cors.h).
 *
 * A preflight from an allowed origin is answered 204 whatever the path, as
 * the common CORS middlewares do: a browser that gets anything but 2xx
 * reports a CORS failure and never sends the real request, so a developer
 * would look for a CORS problem where there is a 404.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "cors.h"
#include "log.h"

#define LX_CORS_ALL_METHODS "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
#define LX_CORS_ORIGIN_LOG_MAX 200 /* bytes of an origin kept and logged */

/* Refused origins this process has logged (per worker: a worker is one
 * process and one thread). */
static char *lx_cors_logged[LX_CORS_LOGGED_MAX];
static size_t lx_cors_n_logged;
static int lx_cors_is_full_logged;

static void lx_cors_log_refused(const lx_server_conf *sc, const char *origin, const char *req_id)
{
    for (size_t i = 0; i < lx_cors_n_logged; i++)
        if (strncmp(lx_cors_logged[i], origin, LX_CORS_ORIGIN_LOG_MAX) == 0)
            return;
    if (lx_cors_n_logged == LX_CORS_LOGGED_MAX) {
        if (!lx_cors_is_full_logged)
            lx_log(LX_LOG_WARN, "core", req_id,
                   "CORS: %d refused origins logged; further ones are not", LX_CORS_LOGGED_MAX);
        lx_cors_is_full_logged = 1;
        return;
    }
    lx_cors_logged[lx_cors_n_logged] = strndup(origin, LX_CORS_ORIGIN_LOG_MAX);
    if (lx_cors_logged[lx_cors_n_logged] == NULL)
        return;
    lx_cors_n_logged++;
    if (sc->n_cors_origins == 0)
        lx_log(LX_LOG_WARN, "core", req_id,
               "CORS: a browser on origin %.*s called lexiaid, but CORS is off "
               "(server.cors_origins, LEXIAID_CORS_ORIGINS, is empty): pages on another origin "
               "cannot read its answers",
               LX_CORS_ORIGIN_LOG_MAX, origin);
    else
        lx_log(LX_LOG_WARN, "core", req_id,
               "CORS: origin %.*s is not in server.cors_origins (LEXIAID_CORS_ORIGINS): a browser "
               "page there cannot read lexiaid's answers; add the origin, or serve the frontend "
               "from an allowed one",
               LX_CORS_ORIGIN_LOG_MAX, origin);
}

const char *lx_cors_allowed(const lx_server_conf *sc, const char *origin, const char *req_id)
{
    if (origin == NULL)
        return NULL;
    for (size_t i = 0; i < sc->n_cors_origins; i++)
        if (strcmp(sc->cors_origins[i], "*") == 0 || strcmp(sc->cors_origins[i], origin) == 0)
            return origin;
    lx_cors_log_refused(sc, origin, req_id);
    return NULL;
}

/* Whether the comma-separated list has method (ASCII, case-sensitive as
 * HTTP methods are). */
static int lx_cors_lists(const char *list, const char *method)
{
    size_t n = strlen(method);

    for (const char *p = list; (p = strstr(p, method)) != NULL; p += n)
        if ((p == list || p[-1] == ' ' || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return 1;
    return 0;
}

int lx_cors_preflight(const struct evkeyvalq *in, struct evkeyvalq *out, const lx_server_conf *sc,
                      const lx_router *router, const char *path)
{
    const char *acrm = evhttp_find_header(in, "Access-Control-Request-Method");
    char allow[128], age[32];
    int n;

    if (acrm == NULL)
        return 0;
    n = lx_router_allowed(router, path, allow, sizeof(allow));
    evhttp_add_header(out, "Access-Control-Allow-Methods",
                      n > 0 && lx_cors_lists(allow, acrm) ? allow : LX_CORS_ALL_METHODS);
    evhttp_add_header(out, "Access-Control-Allow-Headers", sc->cors_headers);
    snprintf(age, sizeof(age), "%lld", sc->cors_max_age_s);
    evhttp_add_header(out, "Access-Control-Max-Age", age);
    if (n > 0)
        evhttp_add_header(out, "Allow", allow);
    return 1;
}
