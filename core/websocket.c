#include "config.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "log.h"
#include "request.h"
#include "websocket.h"
#include "worker.h"
#include "ws_handshake.h"
#include "ws_session.h"

/* A handshake that passed the checks, in request memory until the request
 * ends; it holds one of the worker's max_websockets places meanwhile. */
typedef struct lx_ws_hs {
    lx_worker *w;
    const lx_route *route;
    int is_reserved;
    char accept[LX_WS_ACCEPT_LEN + 1];
} lx_ws_hs;

static void lx_ws_hs_release(void *arg)
{
    lx_ws_hs *hs = arg;
    if (hs->is_reserved) {
        hs->is_reserved = 0;
        hs->w->n_ws_handshakes--;
    }
}

static int lx_ws_refuse(lx_req *req, int status, const char *code, const char *message)
{
    if (status == 426)
        lx_req_set_header(req, "Sec-WebSocket-Version", "13");
    lx_req_reply_error(req, status, code, message);
    return 1;
}

int lx_ws_route_check(lx_req *req, const lx_route *route, size_t body_len)
{
    lx_worker *w = lx_req_worker(req);
    const lx_server_conf *sc = &w->rt->conf->server;

    if (!route->is_websocket) {
        if (lx_ws_is_upgrade(lx_req_header(req, "Upgrade")))
            return lx_ws_refuse(req, 400, "NOT_A_WEBSOCKET",
                                "this route does not take WebSocket sessions");
        return 0;
    }
    lx_ws_hs_request in = {
        .method = lx_req_method(req),
        .host = lx_req_header(req, "Host"),
        .upgrade = lx_req_header(req, "Upgrade"),
        .connection = lx_req_header(req, "Connection"),
        .key = lx_req_header(req, "Sec-WebSocket-Key"),
        .version = lx_req_header(req, "Sec-WebSocket-Version"),
        .content_length = lx_req_header(req, "Content-Length"),
        .transfer_encoding = lx_req_header(req, "Transfer-Encoding"),
        .body_len = body_len,
    };
    lx_ws_refusal r;
    char accept[LX_WS_ACCEPT_LEN + 1];
    if (lx_ws_handshake_check(&in, accept, &r) != 0)
        return lx_ws_refuse(req, r.status, r.code, r.message);
    if (!lx_ws_origin_allowed(lx_req_header(req, "Origin"), in.host, sc->cors_origins,
                              sc->n_cors_origins))
        return lx_ws_refuse(req, 403, "ORIGIN_NOT_ALLOWED",
                            "this Origin may not open WebSocket sessions here");
    if (w->is_stopping)
        return lx_ws_refuse(req, 503, "SHUTTING_DOWN", "the server is shutting down");
    if (w->n_ws + w->n_ws_handshakes >= (size_t)sc->max_websockets)
        return lx_ws_refuse(req, 503, "TOO_MANY_SESSIONS",
                            "this server holds as many WebSocket sessions as it may");
    lx_ws_hs *hs = lx_req_alloc(req, sizeof(*hs));
    if (hs == NULL)
        return lx_ws_refuse(req, 500, "INTERNAL", "out of memory");
    hs->w = w;
    hs->route = route;
    hs->is_reserved = 0;
    memcpy(hs->accept, accept, sizeof(accept));
    if (lx_req_on_cleanup(req, lx_ws_hs_release, hs) != LX_OK)
        return lx_ws_refuse(req, 500, "INTERNAL", "out of memory");
    hs->is_reserved = 1;
    w->n_ws_handshakes++;
    lx_req_set_ws(req, hs);
    return 0;
}

int lx_ws_req_is_websocket(lx_req *req)
{
    return req != NULL && lx_req_ws(req) != NULL;
}

/* Headers of the 101 that the response must not carry twice or at all. */
static int lx_ws_header_is_ours(const char *name)
{
    static const char *const ours[] = {"Connection",
                                       "Upgrade",
                                       "Content-Length",
                                       "Content-Type",
                                       "Transfer-Encoding",
                                       "Sec-WebSocket-Accept",
                                       "Sec-WebSocket-Extensions"};
    for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
        if (strcasecmp(name, ours[i]) == 0)
            return 1;
    return 0;
}

/* Writes 101 Switching Protocols with the request's response headers
 * (X-Request-Id, CORS, what the plugin set) into the connection's output. */
static int lx_ws_write_101(struct bufferevent *bev, struct evhttp_request *evreq,
                           const char *accept)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    struct evkeyvalq *hdrs = evhttp_request_get_output_headers(evreq);
    struct evkeyval *kv;
    int rc = evbuffer_add_printf(out,
                                 "HTTP/1.1 101 Switching Protocols\r\n"
                                 "Upgrade: websocket\r\n"
                                 "Connection: Upgrade\r\n"
                                 "Sec-WebSocket-Accept: %s\r\n",
                                 accept) < 0;
    TAILQ_FOREACH(kv, hdrs, next)
    {
        if (!lx_ws_header_is_ours(kv->key))
            rc |= evbuffer_add_printf(out, "%s: %s\r\n", kv->key, kv->value) < 0;
    }
    rc |= evbuffer_add(out, "\r\n", 2) != 0;
    return rc ? LX_ENOMEM : LX_OK;
}

/* Both ws_accept and ws_reject: the upgrade, and a session on it. */
static int lx_ws_upgrade(lx_req *req, const lx_ws_handler *h, void *arg, lx_ws **out)
{
    lx_ws_hs *hs = lx_req_ws(req);
    struct evhttp_request *evreq;
    struct evhttp_connection *evcon;
    char accept[LX_WS_ACCEPT_LEN + 1];

    if (hs == NULL)
        return LX_EINVAL;
    lx_worker *w = hs->w;
    lx_ws *ws = lx_ws_session_new(w, &hs->route->ws, lx_req_id(req), h, arg);
    if (ws == NULL) {
        int rc = lx_req_reply_error(req, 500, "INTERNAL", "out of memory");
        return rc == LX_OK ? LX_ENOMEM : rc;
    }
    memcpy(accept, hs->accept, sizeof(accept));
    /* The place the handshake held passes to the session (counted in n_ws). */
    lx_ws_hs_release(hs);
    /* The request ends here, and may be freed: nothing of it is used after. */
    int rc = lx_req_take_connection(req, &evreq, &evcon);
    if (rc != LX_OK) {
        lx_ws_session_discard(ws);
        return rc;
    }
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    if (lx_ws_write_101(bev, evreq, accept) != LX_OK) {
        lx_ws_session_discard(ws);
        evhttp_connection_free(evcon);
        return LX_ENOMEM;
    }
    rc = lx_ws_session_start(ws, bev, evcon);
    if (rc != LX_OK)
        return rc;
    if (w->is_stopping && h != NULL) /* accepted after the worker's call to go away */
        lx_ws_close(ws, LX_WS_GOING_AWAY, "server going away");
    if (out != NULL)
        *out = ws;
    return LX_OK;
}

int lx_ws_accept(lx_req *req, const lx_ws_handler *h, void *arg, lx_ws **out)
{
    if (req == NULL || h == NULL ||
        h->struct_size < offsetof(lx_ws_handler, on_close) + sizeof(h->on_close) ||
        h->on_message == NULL || h->on_close == NULL)
        return LX_EINVAL;
    return lx_ws_upgrade(req, h, arg, out);
}

int lx_ws_reject(lx_req *req, int code, const char *reason)
{
    lx_ws *ws = NULL;

    if (req == NULL || !lx_ws_code_ok(code) || !lx_ws_reason_ok(reason))
        return LX_EINVAL;
    int rc = lx_ws_upgrade(req, NULL, NULL, &ws);
    if (rc != LX_OK)
        return rc;
    return lx_ws_close(ws, code, reason) == LX_ENOMEM ? LX_ENOMEM : LX_OK;
}
