#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <lexiaid/plugin.h>
#include "log.h"
#include "metrics.h"

/* Status codes with their own series; the rest fall into "1xx".."5xx". */
static const int lx_status_codes[] = {200, 201, 202, 204, 206, 301, 302, 304, 400, 401,
                                      403, 404, 405, 408, 409, 413, 415, 422, 429, 500,
                                      501, 502, 503, 504};
#define LX_N_CODES (sizeof(lx_status_codes) / sizeof(lx_status_codes[0]))
#define LX_N_STATUS (LX_N_CODES + 5)

/* Upper bounds of the latency histogram, in microseconds. */
static const uint64_t lx_buckets_us[] = {500,    1000,   2500,   5000,    10000,   25000,  50000,
                                         100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
#define LX_N_BUCKETS (sizeof(lx_buckets_us) / sizeof(lx_buckets_us[0]))

typedef struct lx_route_counters {
    _Atomic uint64_t by_status[LX_N_STATUS];
    _Atomic uint64_t buckets[LX_N_BUCKETS]; /* non-cumulative; summed at render */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t count;
} lx_route_counters;

/* WebSocket close codes with their own series; the rest are "other". */
static const int lx_ws_codes[] = {1000, 1001, 1002, 1003, 1005, 1006, 1007,
                                  1008, 1009, 1010, 1011, 4001, 4003};
#define LX_N_WS_CODES (sizeof(lx_ws_codes) / sizeof(lx_ws_codes[0]))

typedef struct lx_ws_counters {
    _Atomic int64_t open;
    _Atomic uint64_t messages[2]; /* in, out */
    _Atomic uint64_t bytes[2];
    _Atomic uint64_t closes[LX_N_WS_CODES + 1];
} lx_ws_counters;

typedef struct lx_worker_slot {
    _Atomic int64_t in_flight;
    lx_ws_counters ws;
    lx_route_counters routes[]; /* n_routes + 1 */
} lx_worker_slot;

struct lx_metrics {
    int n_workers;
    size_t n_routes;
    const char *const *methods;
    const char *const *patterns;
    size_t slot_size;
    size_t map_size;
    unsigned char *map; /* shared */
};

static _Atomic uint64_t *lx_restarts; /* shared, made by the master */

static inline void lx_inc(_Atomic uint64_t *c, uint64_t by)
{
    /* single writer per counter: a relaxed load and store, no lock prefix */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

int lx_metrics_global_init(void)
{
    if (lx_restarts != NULL)
        return LX_OK;
    void *p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return LX_ENOMEM;
    lx_restarts = p;
    return LX_OK;
}

void lx_metrics_count_restart(void)
{
    if (lx_restarts != NULL)
        atomic_fetch_add_explicit(lx_restarts, 1, memory_order_relaxed);
}

lx_metrics *lx_metrics_new(int n_workers, size_t n_routes, const char *const *methods,
                           const char *const *patterns)
{
    lx_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->n_workers = n_workers;
    m->n_routes = n_routes;
    m->methods = methods;
    m->patterns = patterns;
    m->slot_size = sizeof(lx_worker_slot) + (n_routes + 1) * sizeof(lx_route_counters);
    m->slot_size = (m->slot_size + 63) & ~(size_t)63; /* no false sharing between workers */
    m->map_size = m->slot_size * (size_t)n_workers;
    void *p = mmap(NULL, m->map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        free(m);
        return NULL;
    }
    m->map = p;
    return m;
}

void lx_metrics_free(lx_metrics *m)
{
    if (m == NULL)
        return;
    munmap(m->map, m->map_size);
    free(m);
}

static lx_worker_slot *lx_slot(const lx_metrics *m, int worker)
{
    return (lx_worker_slot *)(m->map + m->slot_size * (size_t)worker);
}

void lx_metrics_worker_start(lx_metrics *m, int worker)
{
    if (m == NULL || worker < 0 || worker >= m->n_workers)
        return;
    lx_worker_slot *s = lx_slot(m, worker);
    atomic_store_explicit(&s->in_flight, 0, memory_order_relaxed);
    atomic_store_explicit(&s->ws.open, 0, memory_order_relaxed);
}

void lx_metrics_request_start(lx_metrics *m, int worker)
{
    if (m == NULL || worker < 0 || worker >= m->n_workers)
        return;
    _Atomic int64_t *f = &lx_slot(m, worker)->in_flight;
    atomic_store_explicit(f, atomic_load_explicit(f, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static size_t lx_status_index(int status)
{
    for (size_t i = 0; i < LX_N_CODES; i++)
        if (lx_status_codes[i] == status)
            return i;
    int cls = status / 100;
    if (cls < 1 || cls > 5)
        cls = 5;
    return LX_N_CODES + (size_t)(cls - 1);
}

void lx_metrics_request_end(lx_metrics *m, int worker, int route, int status, uint64_t dur_us)
{
    if (m == NULL || worker < 0 || worker >= m->n_workers)
        return;
    lx_worker_slot *s = lx_slot(m, worker);
    size_t r = (route < 0 || (size_t)route >= m->n_routes) ? m->n_routes : (size_t)route;
    lx_route_counters *rc = &s->routes[r];
    size_t b = 0;

    atomic_store_explicit(&s->in_flight,
                          atomic_load_explicit(&s->in_flight, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    lx_inc(&rc->by_status[lx_status_index(status)], 1);
    while (b < LX_N_BUCKETS && dur_us > lx_buckets_us[b])
        b++;
    if (b < LX_N_BUCKETS)
        lx_inc(&rc->buckets[b], 1);
    lx_inc(&rc->sum_us, dur_us);
    lx_inc(&rc->count, 1);
}

void lx_metrics_ws_open(lx_metrics *m, int worker, int delta)
{
    if (m == NULL || worker < 0 || worker >= m->n_workers)
        return;
    _Atomic int64_t *c = &lx_slot(m, worker)->ws.open;
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
                          memory_order_relaxed);
}

void lx_metrics_ws_message(lx_metrics *m, int worker, int is_out, size_t bytes)
{
    if (m == NULL || worker < 0 || worker >= m->n_workers)
        return;
    lx_ws_counters *c = &lx_slot(m, worker)->ws;
    lx_inc(&c->messages[is_out ? 1 : 0], 1);
    lx_inc(&c->bytes[is_out ? 1 : 0], bytes);
}

void lx_metrics_ws_close(lx_metrics *m, int worker, int code)
{
    if (m == NULL || worker < 0 || worker >= m->n_workers)
        return;
    size_t i = 0;
    while (i < LX_N_WS_CODES && lx_ws_codes[i] != code)
        i++;
    lx_inc(&lx_slot(m, worker)->ws.closes[i], 1);
}

typedef struct lx_sbuf {
    char *p;
    size_t len, cap;
    int is_oom;
} lx_sbuf;

static void lx_sb_printf(lx_sbuf *b, const char *fmt, ...) LX_PRINTF(2, 3);
static void lx_sb_printf(lx_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        if (b->is_oom)
            return;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->is_oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* Label values escaped as Prometheus wants: \\ \" \n. */
static void lx_label(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') {
            dst[n++] = '\\';
            dst[n++] = *s;
        } else if (*s == '\n') {
            dst[n++] = '\\';
            dst[n++] = 'n';
        } else {
            dst[n++] = *s;
        }
    }
    dst[n] = '\0';
}

static uint64_t lx_ws_sum(const lx_metrics *m, size_t offset)
{
    uint64_t total = 0;
    for (int w = 0; w < m->n_workers; w++)
        total +=
            atomic_load_explicit((_Atomic uint64_t *)((unsigned char *)&lx_slot(m, w)->ws + offset),
                                 memory_order_relaxed);
    return total;
}

/* The counter `name` by direction: its HELP and TYPE lines, then the "in"
 * and "out" sums of the uint64_t pair at `offset` in lx_ws_counters. */
static void lx_metrics_render_ws_dir(const lx_metrics *m, lx_sbuf *b, const char *name,
                                     const char *help, size_t offset)
{
    static const char *const dir[2] = {"in", "out"};

    lx_sb_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (int d = 0; d < 2; d++)
        lx_sb_printf(b, "%s{direction=\"%s\"} %llu\n", name, dir[d],
                     (unsigned long long)lx_ws_sum(m, offset + (size_t)d * sizeof(uint64_t)));
}

static void lx_metrics_render_ws(const lx_metrics *m, lx_sbuf *b)
{
    lx_sb_printf(b, "# HELP lexiaid_websocket_sessions Open WebSocket sessions.\n"
                    "# TYPE lexiaid_websocket_sessions gauge\n");
    for (int w = 0; w < m->n_workers; w++)
        lx_sb_printf(
            b, "lexiaid_websocket_sessions{worker=\"%d\"} %lld\n", w,
            (long long)atomic_load_explicit(&lx_slot(m, w)->ws.open, memory_order_relaxed));
    lx_metrics_render_ws_dir(m, b, "lexiaid_websocket_messages_total",
                             "WebSocket messages, by direction.",
                             offsetof(lx_ws_counters, messages));
    lx_metrics_render_ws_dir(m, b, "lexiaid_websocket_bytes_total",
                             "WebSocket message payload bytes, by direction.",
                             offsetof(lx_ws_counters, bytes));
    lx_sb_printf(b, "# HELP lexiaid_websocket_closes_total WebSocket sessions ended, by close "
                    "code.\n"
                    "# TYPE lexiaid_websocket_closes_total counter\n");
    for (size_t i = 0; i <= LX_N_WS_CODES; i++) {
        uint64_t n = lx_ws_sum(m, offsetof(lx_ws_counters, closes) + i * sizeof(uint64_t));
        if (n == 0)
            continue;
        char code[16];
        if (i < LX_N_WS_CODES)
            snprintf(code, sizeof(code), "%d", lx_ws_codes[i]);
        else
            snprintf(code, sizeof(code), "other");
        lx_sb_printf(b, "lexiaid_websocket_closes_total{code=\"%s\"} %llu\n", code,
                     (unsigned long long)n);
    }
}

int lx_metrics_render(const lx_metrics *m, char **out, size_t *len)
{
    lx_sbuf b = {malloc(8192), 0, 8192, 0};
    if (b.p == NULL)
        return LX_ENOMEM;
    b.p[0] = '\0';

    lx_sb_printf(&b, "# HELP lexiaid_build_info Version and plugin ABI.\n"
                     "# TYPE lexiaid_build_info gauge\n"
                     "lexiaid_build_info{version=\"%s\",abi=\"%d.%d\"} 1\n",
                 PACKAGE_VERSION, LX_ABI_MAJOR, LX_ABI_MINOR);
    lx_sb_printf(&b, "# HELP lexiaid_worker_restarts_total Workers restarted after dying.\n"
                     "# TYPE lexiaid_worker_restarts_total counter\n"
                     "lexiaid_worker_restarts_total %llu\n",
                 (unsigned long long)(lx_restarts ? atomic_load(lx_restarts) : 0));
    if (m == NULL)
        goto done;
    lx_sb_printf(&b, "# HELP lexiaid_workers Worker processes configured.\n"
                     "# TYPE lexiaid_workers gauge\nlexiaid_workers %d\n",
                 m->n_workers);
    lx_sb_printf(&b, "# HELP lexiaid_http_requests_in_flight Requests being served.\n"
                     "# TYPE lexiaid_http_requests_in_flight gauge\n");
    for (int w = 0; w < m->n_workers; w++)
        lx_sb_printf(&b, "lexiaid_http_requests_in_flight{worker=\"%d\"} %lld\n", w,
                     (long long)atomic_load_explicit(&lx_slot(m, w)->in_flight,
                                                     memory_order_relaxed));

    lx_metrics_render_ws(m, &b);
    lx_sb_printf(&b, "# HELP lexiaid_http_requests_total Requests answered, by route and status.\n"
                     "# TYPE lexiaid_http_requests_total counter\n");
    for (size_t r = 0; r <= m->n_routes; r++) {
        char route[512], method[32];
        lx_label(route, sizeof(route), r < m->n_routes ? m->patterns[r] : "unmatched");
        lx_label(method, sizeof(method), r < m->n_routes ? m->methods[r] : "");
        for (size_t s = 0; s < LX_N_STATUS; s++) {
            uint64_t total = 0;
            for (int w = 0; w < m->n_workers; w++)
                total += atomic_load_explicit(&lx_slot(m, w)->routes[r].by_status[s],
                                              memory_order_relaxed);
            if (total == 0)
                continue;
            char status[8];
            if (s < LX_N_CODES)
                snprintf(status, sizeof(status), "%d", lx_status_codes[s]);
            else
                snprintf(status, sizeof(status), "%dxx", (int)(s - LX_N_CODES + 1));
            lx_sb_printf(&b,
                         "lexiaid_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} "
                         "%llu\n",
                         route, method, status, (unsigned long long)total);
        }
    }

    lx_sb_printf(&b, "# HELP lexiaid_http_request_duration_seconds Time to answer, by route.\n"
                     "# TYPE lexiaid_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= m->n_routes; r++) {
        uint64_t count = 0, sum = 0, buckets[LX_N_BUCKETS] = {0};
        for (int w = 0; w < m->n_workers; w++) {
            const lx_route_counters *rc = &lx_slot(m, w)->routes[r];
            count += atomic_load_explicit(&rc->count, memory_order_relaxed);
            sum += atomic_load_explicit(&rc->sum_us, memory_order_relaxed);
            for (size_t i = 0; i < LX_N_BUCKETS; i++)
                buckets[i] += atomic_load_explicit(&rc->buckets[i], memory_order_relaxed);
        }
        if (count == 0)
            continue;
        char route[512], method[32];
        lx_label(route, sizeof(route), r < m->n_routes ? m->patterns[r] : "unmatched");
        lx_label(method, sizeof(method), r < m->n_routes ? m->methods[r] : "");
        uint64_t cum = 0;
        for (size_t i = 0; i < LX_N_BUCKETS; i++) {
            cum += buckets[i];
            lx_sb_printf(&b,
                         "lexiaid_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                         "le=\"%g\"} %llu\n",
                         route, method, (double)lx_buckets_us[i] / 1e6, (unsigned long long)cum);
        }
        lx_sb_printf(&b,
                     "lexiaid_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                     "le=\"+Inf\"} %llu\n",
                     route, method, (unsigned long long)count);
        lx_sb_printf(&b,
                     "lexiaid_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.6f\n"
                     "lexiaid_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} "
                     "%llu\n",
                     route, method, (double)sum / 1e6, route, method, (unsigned long long)count);
    }
done:
    if (b.is_oom) {
        free(b.p);
        return LX_ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return LX_OK;
}
