/*
 * A WebSocket session: RFC 6455 framing with wslay over a bufferevent the
 * core has taken over from evhttp (core/websocket.c does the handshake and
 * the takeover). The plugin's callbacks, whole messages, holds for offloaded
 * work, the send queue and its back-pressure, the close handshake, ping and
 * idle timers, the per-worker list for shutdown, metrics. Contracts of the
 * lx_ws_* functions the host table exposes are in include/lexiaid/plugin.h.
 *
 * Everything runs on the worker loop. A session is freed after its
 * on_close has returned, never inside a plugin callback or a host call.
 * tests/fuzz/fuzz_ws_session.c drives the frame path over a bufferevent
 * pair.
 */
#ifndef LX_CORE_WS_SESSION_H
#define LX_CORE_WS_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/plugin.h>
#include "conf.h"

struct bufferevent;
struct evhttp_connection;

/* Bytes a session keeps in its socket's output buffer before it stops
 * encoding queued messages into it. */
#define LX_WS_OUTBUF (64u << 10)
/* How long a session waits for the peer's close frame after sending its own. */
#define LX_WS_CLOSE_WAIT_MS 5000

/* A new session of worker w (counted at once in w->n_ws), not yet running.
 * `h` may be NULL for a session that only closes (ws_reject); its members
 * that h->struct_size covers are copied. req_id is copied. NULL when out of
 * memory. */
lx_ws *lx_ws_session_new(lx_worker *w, const lx_ws_limits *lim, const char *req_id,
                         const lx_ws_handler *h, void *arg);

/* Frees a session that lx_ws_session_start never ran. */
void lx_ws_session_discard(lx_ws *ws);

/* Runs the session on bev: the session's callbacks replace whatever bev
 * had, reading is enabled and then bev's timeouts cleared (in that order:
 * enabling re-arms the read timeout evhttp left, clearing then removes
 * it), and bytes already in bev's input (sent right behind the handshake)
 * are processed on the next loop pass. bev's output may already hold the
 * 101 response. When evcon is set it owns bev and the session ends it with
 * evhttp_connection_free; otherwise the session frees bev. Returns LX_OK,
 * or LX_ENOMEM (the session is then ended: on_close runs with 1006). */
int lx_ws_session_start(lx_ws *ws, struct bufferevent *bev, struct evhttp_connection *evcon);

/* Closes every session of w with 1001 after its queued messages (SIGTERM,
 * SIGHUP: the worker is stopping). */
void lx_ws_worker_stopping(lx_worker *w);

/* The worker loop has ended: drops every connection still open and runs
 * on_close of every session that is not held (call before the plugins'
 * worker_stop). */
void lx_ws_worker_exit(lx_worker *w);

/* Frees whatever is left (sessions held and never resumed get on_close
 * now). Call last, after the offload pool has run its completions. */
void lx_ws_free_all(lx_worker *w);

/* The host API (contracts in include/lexiaid/plugin.h). */
int lx_ws_send(lx_ws *ws, int type, const void *data, size_t len);
size_t lx_ws_queued(lx_ws *ws);
int lx_ws_close(lx_ws *ws, int code, const char *reason);
void lx_ws_resume(lx_ws *ws);
const char *lx_ws_id(lx_ws *ws);
lx_worker *lx_ws_worker(lx_ws *ws);

/* True for a code a close frame may carry and ws_close accepts: 1000-1003,
 * 1007-1011, 3000-4999. */
int lx_ws_code_ok(int code);
/* True for a reason ws_close accepts: at most 123 bytes of UTF-8. */
int lx_ws_reason_ok(const char *reason);

#endif
