/*
 * A worker process: one libevent loop, one evhttp on the listening socket
 * inherited from the master, the offload pool, the HTTP client (loaded on
 * demand), and the requests in flight. Everything here runs on the loop's
 * thread.
 */
#ifndef LX_CORE_WORKER_H
#define LX_CORE_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/plugin.h>
#include "http_client.h"
#include "offload.h"
#include "runtime.h"

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct event;
struct lx_req;

struct lx_worker {
    lx_runtime *rt;
    int index;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct event *ev_term, *ev_int, *ev_quit, *ev_flush, *ev_drain, *ev_accept_retry;
    lx_offload *offload;
    lx_httpc *httpc;
    int is_stopping;
    uint64_t stop_deadline_us;
    size_t n_active;         /* lx_req alive (incl. those a plugin still holds) */
    size_t n_writing;        /* replies handed to evhttp, not yet written */
    struct lx_req *live;     /* every lx_req alive, for cleanup at exit */
    struct lx_req *spare;    /* freed lx_req kept for reuse */
    size_t n_spare;
    uint32_t rid_prefix;
    uint64_t rid_counter;
    struct lx_health_check *checks; /* /ready checks not yet fully reported */
    /* Connections (core/conn.c) */
    struct lx_conn **conn_by_fd; /* by socket, for lx_conn_of */
    size_t n_conn_by_fd;
    struct lx_conn *conns;         /* every connection alive */
    struct lx_conn *conns_pending; /* to adopt or to reap on the next pass */
    struct event *ev_conns;
    size_t n_conns;       /* counted against max_connections */
    size_t body_mem;      /* bytes of request bodies reserved */
    int is_accept_paused; /* accept() failed: retrying in a moment */
    int is_full;          /* at max_connections */
    uint64_t full_logged_us;
    struct lx_ws *ws_live;          /* every WebSocket session alive (core/ws_session.c) */
    size_t n_ws;                    /* sessions alive: open, closing, or ended but held */
    size_t n_ws_handshakes;         /* handshakes past the checks, not yet upgraded */
};

/* Runs a worker until it is told to stop; returns the process exit code.
 * listen_fd is inherited from the master (the worker does not close the
 * master's copy: it is a different process). */
int lx_worker_run(lx_runtime *rt, int index, int listen_fd);

/* Accepts new connections, or stops, as the worker's state says: not when
 * stopping, not at server.max_connections, not while accept() is failing. */
void lx_worker_accept_update(lx_worker *w);

/* Microseconds on a monotonic clock. */
uint64_t lx_now_us(void);

/* Loads the HTTP client module into this process (once) and makes this
 * worker's client. LX_OK, or an error with a message. */
int lx_worker_http_client(lx_worker *w, const lx_httpc_module **mod, char *err, size_t errlen);

/* Preloads the HTTP client module in the master (before fork) so workers
 * share its pages and a missing module is reported at start. */
int lx_httpc_preload(char *err, size_t errlen);

#endif
