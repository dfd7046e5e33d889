/*
 * health: liveness, readiness and metrics.
 *
 *   health.live     GET /health      200 {"status":"ok"} while the worker runs
 *   health.api      GET /api/health  the original backend's answer
 *   health.ready    GET /ready       every plugin's health hook, 200 or 503
 *   health.metrics  GET /metrics     Prometheus text, all workers summed
 *
 * Config (all optional):
 *   ready_timeout = "2s";   how long /ready waits for the plugins' hooks
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

typedef struct health_state {
    const lx_host *host;
    long long ready_timeout_ms;
} health_state;

static const char health_ok[] = "{\"status\":\"ok\"}";
static const char health_api_ok[] = "{\"status\":\"ok\",\"message\":\"Backend is healthy\"}";

static lx_rc health_live(lx_req *req, void *state)
{
    health_state *st = state;
    st->host->reply(req, 200, "application/json", health_ok, sizeof(health_ok) - 1, LX_STATIC);
    return LX_DONE;
}

static lx_rc health_api(lx_req *req, void *state)
{
    health_state *st = state;
    st->host->reply(req, 200, "application/json", health_api_ok, sizeof(health_api_ok) - 1,
                    LX_STATIC);
    return LX_DONE;
}

/* JSON string escaping for plugin names and details (ASCII-safe output). */
static size_t health_escape(char *dst, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (; s && *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            memcpy(dst + n, "\\u00", 4);
            dst[n + 4] = hex[c >> 4];
            dst[n + 5] = hex[c & 15];
            n += 6;
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n] = '\0';
    return n;
}

typedef struct health_ready_ctx {
    const lx_host *host;
    lx_req *req;
    int is_stopping;
} health_ready_ctx;

static void health_ready_done(const lx_health_report *r, void *arg)
{
    health_ready_ctx *c = arg;
    size_t cap = 128 + r->n_items * 640;
    char *out = malloc(cap);
    size_t n;
    int is_ok = r->all_ok && !c->is_stopping;

    if (out == NULL) {
        c->host->reply_error(c->req, 500, "INTERNAL", "out of memory");
        return;
    }
    n = (size_t)snprintf(out, cap, "{\"status\":\"%s\",%s\"plugins\":{",
                         is_ok ? "ready" : "unavailable",
                         is_ok ? ""
                         : c->is_stopping
                             ? "\"code\":\"NOT_READY\",\"error\":\"the worker is stopping\","
                             : "\"code\":\"NOT_READY\",\"error\":\"a plugin is not healthy\",");
    for (size_t i = 0; i < r->n_items; i++) {
        char name[128], detail[512];
        health_escape(name, sizeof(name), r->items[i].plugin);
        health_escape(detail, sizeof(detail), r->items[i].detail);
        n += (size_t)snprintf(out + n, cap - n, "%s\"%s\":{\"ok\":%s,\"detail\":\"%s\"}",
                              i ? "," : "", name, r->items[i].is_ok ? "true" : "false", detail);
    }
    snprintf(out + n, cap - n, "}}");
    c->host->reply(c->req, is_ok ? 200 : 503, "application/json", out, strlen(out), free);
}

static lx_rc health_ready(lx_req *req, void *state)
{
    health_state *st = state;
    health_ready_ctx *c = st->host->req_alloc(req, sizeof(*c));
    if (c == NULL)
        return LX_FAIL;
    c->host = st->host;
    c->req = req;
    lx_worker *w = st->host->req_worker(req);
    c->is_stopping = st->host->worker_stopping(w);
    if (st->host->health_check(w, (long)st->ready_timeout_ms, health_ready_done, c) != LX_OK)
        return LX_FAIL;
    return LX_ASYNC;
}

static lx_rc health_metrics(lx_req *req, void *state)
{
    health_state *st = state;
    char *text = NULL;
    size_t len = 0;
    if (st->host->metrics_render(&text, &len) != LX_OK) {
        st->host->reply_error(req, 500, "INTERNAL", "cannot render the metrics");
        return LX_DONE;
    }
    st->host->reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len,
                    st->host->free);
    return LX_DONE;
}

static int health_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                       size_t errlen)
{
    static const char *const keys[] = {"ready_timeout", NULL};
    health_state *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    st->host = host;
    st->ready_timeout_ms = 2000;
    if (cfg != NULL) {
        int rc = host->cfg_check_keys(cfg, keys, err, errlen);
        if (rc == LX_OK)
            rc = host->cfg_ms(cfg, "ready_timeout", &st->ready_timeout_ms, err, errlen);
        if (rc != LX_OK && rc != LX_ENOENT) {
            free(st);
            return rc;
        }
        if (st->ready_timeout_ms <= 0 || st->ready_timeout_ms > 60000) {
            snprintf(err, errlen, "ready_timeout must be between 1ms and 60s");
            free(st);
            return LX_EINVAL;
        }
    }
    *state = st;
    return LX_OK;
}

static void health_shutdown(void *state)
{
    free(state);
}

static const lx_handler health_handlers[] = {
    {"live", health_live, LX_H_ENDPOINT},
    {"api", health_api, LX_H_ENDPOINT},
    {"ready", health_ready, LX_H_ENDPOINT},
    {"metrics", health_metrics, LX_H_ENDPOINT},
    {NULL, NULL, 0},
};

static const lx_plugin health_plugin = {
    LX_PLUGIN_HEADER,
    .name = "health",
    .version = "1.0.0",
    .description = "liveness, readiness and Prometheus metrics",
    .handlers = health_handlers,
    .init = health_init,
    .shutdown = health_shutdown,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &health_plugin;
}
