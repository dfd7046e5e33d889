/*
 * Metrics shared by the workers of one generation: counters live in an
 * anonymous shared mapping the master makes before it forks, one slot per
 * worker, each written only by its own worker (relaxed atomics, no locks).
 * Any worker renders the sum for GET /metrics. Worker restarts are counted
 * by the master in a mapping that outlives generations.
 */
#ifndef LX_CORE_METRICS_H
#define LX_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct lx_metrics lx_metrics;

/* Route names are borrowed for the life of the metrics (the runtime's).
 * n_routes routes plus one "unmatched" row. NULL on failure. */
lx_metrics *lx_metrics_new(int n_workers, size_t n_routes, const char *const *methods,
                           const char *const *patterns);
void lx_metrics_free(lx_metrics *m);

/* The process-wide restart counter (made once by the master). */
int lx_metrics_global_init(void);
void lx_metrics_count_restart(void);

/* A worker (re)starts at this index: its gauges (requests in flight, open
 * WebSocket sessions) describe the new process, not one that died. */
void lx_metrics_worker_start(lx_metrics *m, int worker);

/* Worker side. route is 0..n_routes-1, or -1 for unmatched. */
void lx_metrics_request_start(lx_metrics *m, int worker);
void lx_metrics_request_end(lx_metrics *m, int worker, int route, int status, uint64_t dur_us);

/* WebSocket sessions: one opened (+1) or ended (-1); a message in or out
 * with its payload bytes; a session's end by close code (the code its
 * on_close saw). */
void lx_metrics_ws_open(lx_metrics *m, int worker, int delta);
void lx_metrics_ws_message(lx_metrics *m, int worker, int is_out, size_t bytes);
void lx_metrics_ws_close(lx_metrics *m, int worker, int code);

/* Prometheus text exposition; *out malloc'd. LX_OK or LX_ENOMEM. */
int lx_metrics_render(const lx_metrics *m, char **out, size_t *len);

#endif
