/*
 * The life of a request: evhttp hands it to lx_req_on_request (the gencb),
 * which gives it an id, answers CORS preflights, routes it, checks the body
 * limit, and runs the route's steps (middleware, then the handler). Replies
 * go back through lx_req_reply*. An lx_req outlives its evhttp request when
 * a plugin still holds it (LX_ASYNC) after the client went away or the
 * route timed out: it is freed once both sides are done.
 */
#ifndef LX_CORE_REQUEST_H
#define LX_CORE_REQUEST_H

#include <stddef.h>

#include <lexiaid/plugin.h>

struct evhttp_request;

/* evhttp's generic callback; arg is the lx_worker. */
void lx_req_on_request(struct evhttp_request *evreq, void *arg);

/* Frees every lx_req still alive at worker exit (a plugin that never
 * answered); runs their cleanups. */
void lx_req_free_all(lx_worker *w);
/* Frees the spare list. */
void lx_req_free_spares(lx_worker *w);

/* Accessors and replies: contracts in include/lexiaid/plugin.h. */
const char *lx_req_method(lx_req *req);
const char *lx_req_path(lx_req *req);
const char *lx_req_route(lx_req *req);
const char *lx_req_param(lx_req *req, const char *name);
const char *lx_req_query(lx_req *req, const char *name);
const char *lx_req_header(lx_req *req, const char *name);
const char *lx_req_body(lx_req *req, size_t *len);
const char *lx_req_id(lx_req *req);
const char *lx_req_peer(lx_req *req);
lx_worker *lx_req_worker(lx_req *req);

int lx_req_reply(lx_req *req, int status, const char *ctype, const void *body, size_t len,
                 lx_free_fn free_body);
int lx_req_reply_json(lx_req *req, int status, const char *json);
int lx_req_reply_error(lx_req *req, int status, const char *code, const char *message);
int lx_req_set_header(lx_req *req, const char *name, const char *value);
int lx_req_reply_start(lx_req *req, int status, const char *ctype);
int lx_req_reply_chunk(lx_req *req, const void *data, size_t len, lx_free_fn free_data);
int lx_req_reply_end(lx_req *req);

int lx_req_ctx_set(lx_req *req, const char *key, void *val, lx_free_fn free_val);
void *lx_req_ctx_get(lx_req *req, const char *key);
void lx_req_set_user(lx_req *req, const char *uid);
void *lx_req_alloc(lx_req *req, size_t size);
int lx_req_on_cleanup(lx_req *req, lx_free_fn fn, void *arg);
void lx_req_resume(lx_req *req, lx_rc rc);
int lx_req_on_abort(lx_req *req, void (*fn)(lx_req *req, void *arg), void *arg);
int lx_req_is_gone(lx_req *req);

/* For core/websocket.c: the handshake state of a request on a WebSocket
 * route (NULL when none), set once its checks passed. */
void lx_req_set_ws(lx_req *req, void *hs);
void *lx_req_ws(lx_req *req);

struct evhttp_connection;
/* For core/websocket.c: takes the connection out of a request whose
 * handshake is accepted. Stops watching it (route timeout, close
 * detection), ends the request as answered with 101 (access line and
 * metrics now) and returns evhttp's request and connection: from now on
 * the caller owns the connection (its bufferevent, and freeing it with
 * evhttp_connection_free, which frees the request too). The lx_req may be
 * freed before this returns. LX_OK; LX_ESTATE when the request was
 * already ended; LX_EGONE when the client went away or the route timed out
 * while it was held (the request is ended, as by a reply). */
int lx_req_take_connection(lx_req *req, struct evhttp_request **evreq,
                           struct evhttp_connection **evcon);

/* Reason phrase for a status code ("OK", "Not Found", ...). */
const char *lx_status_reason(int status);

#endif
