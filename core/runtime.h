/*
 * A runtime is one generation of the server: a config, its loaded and
 * initialised plugins, the dispatch table compiled into a router, the
 * service registry and the shared metrics. The master builds one at start
 * and one per reload (SIGHUP); workers of a generation inherit it by fork()
 * and only read it.
 */
#ifndef LX_CORE_RUNTIME_H
#define LX_CORE_RUNTIME_H

#include <stddef.h>

#include <lexiaid/plugin.h>
#include "conf.h"
#include "errs.h"
#include "loader.h"
#include "metrics.h"
#include "router.h"

/* One step of a route: a middleware or the endpoint handler. */
typedef struct lx_step {
    lx_handler_fn fn;
    void *state;       /* the owning plugin's state */
    const char *name;  /* "plugin.handler", borrowed from the conf */
    int is_middleware;
    int is_head_only; /* LX_H_HEAD_ONLY middleware: runs before the body is read */
} lx_step;

typedef struct lx_route {
    int index;
    const char *method;  /* borrowed from the conf */
    const char *pattern;
    lx_step *steps;      /* before..., then the handler */
    size_t n_steps;
    size_t max_body;
    long long timeout_ms;
    long long body_timeout_ms;
    int is_websocket; /* the last step is an LX_H_WEBSOCKET handler */
    lx_ws_limits ws;
} lx_route;

typedef struct lx_service {
    char *name;
    const void *table;
    void *state;
    const char *provider; /* plugin name, borrowed */
} lx_service;

typedef struct lx_runtime {
    int generation;
    lx_conf *conf;           /* owned */
    lx_plugins *plugins;     /* owned */
    lx_router *router;       /* owned */
    lx_route *routes;        /* owned, conf->n_routes */
    size_t n_routes;
    const char **route_methods;  /* for metrics labels */
    const char **route_patterns;
    lx_metrics *metrics;     /* owned; NULL until lx_runtime_prepare_metrics */
    lx_service *services;    /* the registry */
    size_t n_services;
    int uses_http_client;    /* some plugin set LX_PLUGIN_USES_HTTP_CLIENT */
    int is_initialised;
} lx_runtime;

/* Builds a runtime from conf (ownership of conf passes to the runtime,
 * even on failure). Loads the plugins, resolves every route's handlers and
 * middleware, compiles the router. When do_init is set, also runs the
 * plugins' init hooks with `host` (lx_runtime_init); without it, the
 * routes' steps are not bound to plugin states until lx_runtime_init.
 * Returns LX_OK and *out, or a negative code with every problem in errs. */
int lx_runtime_build(lx_conf *conf, int generation, int do_init, const lx_host *host,
                     lx_runtime **out, lx_errs *errs);

/* Runs the plugins' init hooks of a runtime built without do_init, exactly
 * as lx_runtime_build would, and binds the routes to the plugins' states.
 * On failure the plugins already initialised are shut down and errs says
 * why; the runtime is still the caller's to free. */
int lx_runtime_init(lx_runtime *rt, const lx_host *host, lx_errs *errs);

/* Makes the shared metrics for conf->server.workers workers (before fork). */
int lx_runtime_prepare_metrics(lx_runtime *rt);

/* Runs every initialised plugin's shutdown (if do_shutdown) and frees. */
void lx_runtime_free(lx_runtime *rt, int do_shutdown);

/* The runtime the current process serves (set by the master while building
 * and by each worker after fork). Used by the service registry. */
extern lx_runtime *lx_current_runtime;

/* Service registry behind host->svc_register / host->svc_lookup. */
int lx_runtime_svc_register(const char *name, const void *table, void *state);
const void *lx_runtime_svc_lookup(const char *name, void **state);

#endif
