#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"
#include "ws_handshake.h"

lx_runtime *lx_current_runtime;

/* The plugin whose init is running, so registrations know their provider. */
static lx_loaded *lx_initialising;

/* What a step of a route must be. */
enum { LX_STEP_MIDDLEWARE, LX_STEP_ENDPOINT, LX_STEP_WEBSOCKET };

static int lx_step_resolve(lx_runtime *rt, const lx_route_conf *rc, const char *qualified, int want,
                           lx_step *out, lx_errs *errs)
{
    const char *dot = strchr(qualified, '.');
    if (dot == NULL) {
        lx_errs_add(errs, "%s:%d: route %s %s: handler '%s' is not of the form plugin.handler",
                    rc->file, rc->line, rc->method, rc->pattern, qualified);
        return LX_EINVAL;
    }
    size_t plen = (size_t)(dot - qualified);
    lx_loaded *it = lx_plugins_find(rt->plugins, qualified, plen);
    if (it == NULL) {
        int is_disabled = 0;
        for (size_t i = 0; i < rt->conf->n_plugins; i++) {
            const lx_plugin_conf *pc = &rt->conf->plugins[i];
            if (strlen(pc->name) == plen && memcmp(pc->name, qualified, plen) == 0)
                is_disabled = !pc->is_enabled;
        }
        lx_errs_add(errs, "%s:%d: route %s %s: %s '%.*s'", rc->file, rc->line, rc->method,
                    rc->pattern,
                    is_disabled ? "names the disabled plugin" : "names the unknown plugin",
                    (int)plen, qualified);
        return LX_EINVAL;
    }
    const lx_handler *h = lx_loaded_handler(it, dot + 1);
    if (h == NULL) {
        lx_errs_add(errs, "%s:%d: route %s %s: plugin '%s' has no handler '%s'", rc->file,
                    rc->line, rc->method, rc->pattern, it->desc->name, dot + 1);
        return LX_EINVAL;
    }
    unsigned flags = h->flags ? h->flags : LX_H_ENDPOINT;
    if (want == LX_STEP_MIDDLEWARE && !(flags & LX_H_MIDDLEWARE)) {
        lx_errs_add(errs, "%s:%d: route %s %s: '%s' is not a middleware handler", rc->file,
                    rc->line, rc->method, rc->pattern, qualified);
        return LX_EINVAL;
    }
    if (want == LX_STEP_ENDPOINT && !(flags & LX_H_ENDPOINT)) {
        lx_errs_add(errs, "%s:%d: route %s %s: '%s' is %s, not an endpoint handler", rc->file,
                    rc->line, rc->method, rc->pattern, qualified,
                    (flags & LX_H_WEBSOCKET) ? "a WebSocket handler (websocket = ...)"
                                             : "middleware");
        return LX_EINVAL;
    }
    if (want == LX_STEP_WEBSOCKET && !(flags & LX_H_WEBSOCKET)) {
        lx_errs_add(errs, "%s:%d: route %s %s: '%s' is not a WebSocket handler (LX_H_WEBSOCKET)",
                    rc->file, rc->line, rc->method, rc->pattern, qualified);
        return LX_EINVAL;
    }
    out->fn = h->fn;
    out->name = qualified;
    out->is_middleware = want == LX_STEP_MIDDLEWARE;
    out->is_head_only = want == LX_STEP_MIDDLEWARE && (flags & LX_H_HEAD_ONLY) != 0;
    /* state is filled after init, see lx_runtime_bind_states */
    out->state = (void *)it;
    return LX_OK;
}

/* After init, replace the plugin pointers parked in step->state by the
 * plugins' states. */
static void lx_runtime_bind_states(lx_runtime *rt)
{
    for (size_t r = 0; r < rt->n_routes; r++)
        for (size_t s = 0; s < rt->routes[r].n_steps; s++) {
            lx_loaded *it = rt->routes[r].steps[s].state;
            rt->routes[r].steps[s].state = it->state;
        }
}

static void lx_before_init(void *arg, lx_loaded *item)
{
    (void)arg;
    lx_initialising = item;
}

static int lx_after_init(void *arg, lx_loaded *item, char *err, size_t errlen)
{
    lx_runtime *rt = arg;
    lx_initialising = NULL;
    if (item->desc->provides == NULL)
        return LX_OK;
    for (const char *const *p = item->desc->provides; *p != NULL; p++) {
        size_t i;
        for (i = 0; i < rt->n_services; i++)
            if (strcmp(rt->services[i].name, *p) == 0)
                break;
        if (i == rt->n_services) {
            snprintf(err, errlen, "declares it provides '%s' but did not register it in init", *p);
            return LX_EINVAL;
        }
    }
    return LX_OK;
}

int lx_runtime_build(lx_conf *conf, int generation, int do_init, const lx_host *host,
                     lx_runtime **out, lx_errs *errs)
{
    lx_runtime *rt = calloc(1, sizeof(*rt));
    int rc = LX_OK;
    char err[512];

    *out = NULL;
    if (rt == NULL) {
        lx_conf_free(conf);
        return LX_ENOMEM;
    }
    rt->conf = conf;
    rt->generation = generation;

    if ((rc = lx_plugins_load(conf, &rt->plugins, errs)) != LX_OK)
        goto fail;
    for (size_t i = 0; i < rt->plugins->n; i++)
        if (rt->plugins->items[i].desc->flags & LX_PLUGIN_USES_HTTP_CLIENT)
            rt->uses_http_client = 1;

    rt->router = lx_router_new();
    rt->routes = calloc(conf->n_routes ? conf->n_routes : 1, sizeof(*rt->routes));
    rt->route_methods = calloc(conf->n_routes ? conf->n_routes : 1, sizeof(char *));
    rt->route_patterns = calloc(conf->n_routes ? conf->n_routes : 1, sizeof(char *));
    if (rt->router == NULL || rt->routes == NULL || rt->route_methods == NULL ||
        rt->route_patterns == NULL) {
        rc = LX_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < conf->n_routes; i++) {
        const lx_route_conf *rc_ = &conf->routes[i];
        lx_route *r = &rt->routes[rt->n_routes];
        int ok = 1;

        r->index = (int)rt->n_routes;
        r->method = rc_->method;
        r->pattern = rc_->pattern;
        r->max_body = rc_->max_body;
        r->timeout_ms = rc_->timeout_ms;
        r->body_timeout_ms = rc_->body_timeout_ms;
        r->is_websocket = rc_->is_websocket;
        r->ws = rc_->ws;
        r->steps = calloc(rc_->n_before + 1, sizeof(*r->steps));
        if (r->steps == NULL) {
            rc = LX_ENOMEM;
            goto fail;
        }
        for (size_t b = 0; b < rc_->n_before; b++)
            if (lx_step_resolve(rt, rc_, rc_->before[b], LX_STEP_MIDDLEWARE, &r->steps[b], errs) !=
                LX_OK)
                ok = 0;
        if (lx_step_resolve(rt, rc_, rc_->handler,
                            rc_->is_websocket ? LX_STEP_WEBSOCKET : LX_STEP_ENDPOINT,
                            &r->steps[rc_->n_before], errs) != LX_OK)
            ok = 0;
        r->n_steps = rc_->n_before + 1;
        int arc = lx_router_add(rt->router, rc_->method, rc_->pattern, r, err, sizeof(err));
        if (arc != LX_OK) {
            if (arc == LX_EEXIST)
                lx_errs_add(errs, "%s:%d: duplicate route: %s", rc_->file, rc_->line, err);
            else
                lx_errs_add(errs, "%s:%d: route %s %s: %s", rc_->file, rc_->line, rc_->method,
                            rc_->pattern, err);
            ok = 0;
        }
        if (!ok) {
            free(r->steps);
            r->steps = NULL;
            rc = LX_EINVAL;
            continue;
        }
        rt->route_methods[rt->n_routes] = r->method;
        rt->route_patterns[rt->n_routes] = r->pattern;
        rt->n_routes++;
    }
    if (rc != LX_OK)
        goto fail;
    for (size_t i = 0; i < rt->n_routes; i++)
        if (rt->routes[i].is_websocket) {
            if (lx_ws_crypto_load(err, sizeof(err)) != 0) {
                lx_errs_add(errs, "%s:%d: route %s %s: %s", conf->routes[i].file,
                            conf->routes[i].line, rt->routes[i].method, rt->routes[i].pattern, err);
                rc = LX_EINVAL;
                goto fail;
            }
            break;
        }

    if (do_init && (rc = lx_runtime_init(rt, host, errs)) != LX_OK)
        goto fail;
    *out = rt;
    return LX_OK;
fail:
    lx_runtime_free(rt, 1);
    return rc;
}

int lx_runtime_init(lx_runtime *rt, const lx_host *host, lx_errs *errs)
{
    if (rt->is_initialised)
        return LX_ESTATE;
    lx_runtime *prev = lx_current_runtime;
    lx_current_runtime = rt;
    int rc = lx_plugins_init(rt->plugins, host, lx_before_init, lx_after_init, rt, errs);
    lx_initialising = NULL;
    lx_current_runtime = prev;
    if (rc != LX_OK)
        return rc;
    rt->is_initialised = 1;
    lx_runtime_bind_states(rt);
    return LX_OK;
}

int lx_runtime_prepare_metrics(lx_runtime *rt)
{
    if (rt->metrics != NULL)
        return LX_OK;
    rt->metrics = lx_metrics_new(rt->conf->server.workers, rt->n_routes, rt->route_methods,
                                 rt->route_patterns);
    return rt->metrics ? LX_OK : LX_ENOMEM;
}

void lx_runtime_free(lx_runtime *rt, int do_shutdown)
{
    if (rt == NULL)
        return;
    if (do_shutdown && rt->plugins != NULL)
        lx_plugins_shutdown(rt->plugins);
    for (size_t i = 0; i < rt->conf->n_routes && rt->routes != NULL; i++)
        free(rt->routes[i].steps);
    free(rt->routes);
    free(rt->route_methods);
    free(rt->route_patterns);
    for (size_t i = 0; i < rt->n_services; i++)
        free(rt->services[i].name);
    free(rt->services);
    lx_router_free(rt->router);
    lx_metrics_free(rt->metrics);
    lx_plugins_free(rt->plugins);
    lx_conf_free(rt->conf);
    free(rt);
}

int lx_runtime_svc_register(const char *name, const void *table, void *state)
{
    lx_runtime *rt = lx_current_runtime;

    if (rt == NULL || lx_initialising == NULL || name == NULL || table == NULL)
        return LX_ESTATE; /* only from init, in the master */
    int is_declared = 0;
    for (const char *const *p = lx_initialising->desc->provides; p && *p; p++)
        if (strcmp(*p, name) == 0)
            is_declared = 1;
    if (!is_declared)
        return LX_EINVAL;
    for (size_t i = 0; i < rt->n_services; i++)
        if (strcmp(rt->services[i].name, name) == 0)
            return LX_EEXIST;
    lx_service *s = realloc(rt->services, (rt->n_services + 1) * sizeof(*s));
    if (s == NULL)
        return LX_ENOMEM;
    rt->services = s;
    s = &rt->services[rt->n_services];
    if ((s->name = strdup(name)) == NULL)
        return LX_ENOMEM;
    s->table = table;
    s->state = state;
    s->provider = lx_initialising->desc->name;
    rt->n_services++;
    return LX_OK;
}

const void *lx_runtime_svc_lookup(const char *name, void **state)
{
    lx_runtime *rt = lx_current_runtime;
    if (rt == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < rt->n_services; i++)
        if (strcmp(rt->services[i].name, name) == 0) {
            if (state != NULL)
                *state = rt->services[i].state;
            return rt->services[i].table;
        }
    return NULL;
}
