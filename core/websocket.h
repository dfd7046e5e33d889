/*
 * WebSocket routes: the handshake of a request on a route written
 * `websocket = "plugin.handler"`, and the takeover of its connection from
 * evhttp once the plugin accepts (libevent 2.1 has no WebSocket API).
 *
 * request.c calls lx_ws_route_check for every routed request before its
 * steps run; the plugin's handler then calls ws_accept or ws_reject (host
 * API), which take the connection out of the request (lx_req_take_connection)
 * and start a session on its bufferevent (core/ws_session.c). Everything
 * runs on the worker loop.
 */
#ifndef LX_CORE_WEBSOCKET_H
#define LX_CORE_WEBSOCKET_H

#include <stddef.h>

#include <lexiaid/plugin.h>
#include "runtime.h"

/* For a request routed to `route`, before its steps run: on a WebSocket
 * route, checks the handshake (400, 426), the Origin (403) and the
 * worker's session cap (503) and reserves a place; on a plain route,
 * refuses an Upgrade: websocket (400). Returns 1 when it answered (the
 * request is ended and may be freed: do not touch it), 0 to go on. */
int lx_ws_route_check(lx_req *req, const lx_route *route, size_t body_len);

/* The host API (contracts in include/lexiaid/plugin.h). */
int lx_ws_req_is_websocket(lx_req *req);
int lx_ws_accept(lx_req *req, const lx_ws_handler *h, void *arg, lx_ws **out);
int lx_ws_reject(lx_req *req, int code, const char *reason);

#endif
