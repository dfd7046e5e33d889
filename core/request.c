#include "config.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "conn.h"
#include "cors.h"
#include "log.h"
#include "request.h"
#include "websocket.h"
#include "worker.h"
#include "ws_handshake.h"

#define LX_REQ_MAX_SPARE 64
#define LX_REQ_ID_MAX 64
#define LX_ARENA_INLINE 1024

typedef struct lx_ctx_item {
    struct lx_ctx_item *next;
    void *val;
    lx_free_fn free_val;
    char key[];
} lx_ctx_item;

typedef struct lx_cleanup {
    struct lx_cleanup *next;
    lx_free_fn fn;
    void *arg;
} lx_cleanup;

typedef struct lx_abort_cb {
    struct lx_abort_cb *next;
    void (*fn)(lx_req *req, void *arg);
    void *arg;
} lx_abort_cb;

typedef struct lx_arena_block {
    struct lx_arena_block *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
} lx_arena_block;

struct lx_req {
    /* -- reset on every use (up to `match`) -- */
    lx_worker *w;
    lx_req *prev, *next; /* the worker's live list */
    struct evhttp_request *evreq;  /* NULL once answered or lost */
    struct evhttp_connection *evcon;
    lx_conn *conn; /* NULL once answered or lost */
    const lx_route *route;
    size_t step;
    const char *method;
    const char *raw_path;
    char *path;
    const char *query_str;
    struct evkeyvalq query;
    struct evkeyvalq *in_headers;
    struct evkeyvalq hdr_copy;
    struct evbuffer *body;
    const char *body_flat;
    size_t body_len;
    char *peer;
    char *uid;
    lx_ctx_item *ctx;
    lx_cleanup *cleanups;
    lx_abort_cb *aborts;
    lx_arena_block *blocks;
    size_t inline_used;
    struct event *ev_timeout, *ev_closed;
    void *ws_hs; /* core/websocket.c's handshake, on a WebSocket route */
    uint64_t start_us;
    int status;
    size_t bytes;
    size_t body_reserved;   /* of the worker's max_body_memory */
    int busy;               /* > 0 while core code up the stack uses req */
    unsigned is_answered : 1; /* the client has its answer, or is gone */
    unsigned is_ended : 1;    /* the plugin side has ended the request */
    unsigned is_held : 1;     /* a step returned LX_ASYNC and has not ended it */
    unsigned is_gone : 1;
    unsigned is_timed_out : 1;
    unsigned is_streaming : 1;
    unsigned has_query : 1;
    unsigned has_hdr_copy : 1;
    unsigned is_logged : 1;
    unsigned has_body : 1;      /* the head announced a body */
    unsigned is_body_ready : 1; /* ... and it has been read */
    char req_id[LX_REQ_ID_MAX + 1];
    /* -- not reset -- */
    lx_route_match match;
    alignas(max_align_t) unsigned char inline_arena[LX_ARENA_INLINE];
};

static void lx_req_run(lx_req *req);
static void lx_req_maybe_free(lx_req *req);

/* ------------------------------------------------------------------ */
/* Status reasons                                                      */

const char *lx_status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return status < 400 ? "OK" : "Error";
    }
}

/* ------------------------------------------------------------------ */
/* Memory                                                              */

void *lx_req_alloc(lx_req *req, size_t size)
{
    size_t align = alignof(max_align_t);
    size = (size + align - 1) & ~(align - 1);
    if (size == 0)
        size = align;
    if (LX_ARENA_INLINE - req->inline_used >= size) {
        void *p = req->inline_arena + req->inline_used;
        req->inline_used += size;
        return p;
    }
    lx_arena_block *b = req->blocks;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > 4096 ? size : 4096;
        b = malloc(sizeof(*b) + cap);
        if (b == NULL)
            return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = req->blocks;
        req->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

static char *lx_req_strdup(lx_req *req, const char *s)
{
    size_t n = strlen(s);
    char *p = lx_req_alloc(req, n + 1);
    if (p != NULL)
        memcpy(p, s, n + 1);
    return p;
}

int lx_req_on_cleanup(lx_req *req, lx_free_fn fn, void *arg)
{
    lx_cleanup *c = lx_req_alloc(req, sizeof(*c));
    if (c == NULL || fn == NULL)
        return c == NULL ? LX_ENOMEM : LX_EINVAL;
    c->fn = fn;
    c->arg = arg;
    c->next = req->cleanups;
    req->cleanups = c;
    return LX_OK;
}

/* ------------------------------------------------------------------ */
/* Ending                                                              */

static void lx_req_log(lx_req *req)
{
    if (req->is_logged)
        return;
    req->is_logged = 1;
    uint64_t dur = lx_now_us() - req->start_us;
    char query[512];
    /* A WebSocket handshake's query carries the browser's parameters, its
     * ID token among them (browsers cannot set headers there): logged,
     * with credentials redacted. */
    if (req->ws_hs != NULL && req->query_str != NULL)
        lx_log_redact_query(query, sizeof(query), req->query_str);
    lx_access a = {
        .req_id = req->req_id,
        .method = req->method,
        .route = req->route ? req->route->pattern : NULL,
        .path = req->raw_path,
        .query = req->ws_hs != NULL && req->query_str != NULL ? query : NULL,
        .status = req->status,
        .bytes = req->bytes,
        .dur_us = dur,
        .uid = req->uid,
        .worker = req->w->index,
    };
    lx_log_access(&a);
    lx_metrics_request_end(req->w->rt->metrics, req->w->index, req->route ? req->route->index : -1,
                           req->status, dur);
}

static void lx_on_conn_closed_writing(void *arg)
{
    lx_worker *w = arg;
    if (w->n_writing > 0)
        w->n_writing--;
}

static void lx_on_complete(struct evhttp_request *evreq, void *arg)
{
    lx_conn *conn = arg;
    lx_worker *w = lx_conn_worker(conn);
    (void)evreq;
    lx_conn_on_close(conn, NULL, NULL);
    if (w->n_writing > 0)
        w->n_writing--;
    lx_conn_response_done(conn);
}

/* Stops watching the connection for this request. */
static void lx_req_unwatch(lx_req *req)
{
    if (req->ev_timeout != NULL) {
        event_free(req->ev_timeout);
        req->ev_timeout = NULL;
    }
    if (req->ev_closed != NULL) {
        event_free(req->ev_closed);
        req->ev_closed = NULL;
    }
}

/* Before the response's head goes out: a stopping worker closes its
 * connections, and so does a request whose body was not read (where the
 * next request would start is unknown); that one lingers after the close,
 * so that a client still sending its body reads the answer. */
static void lx_req_close_if_needed(lx_req *req)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req->evreq);
    int is_body_unread = req->has_body && !req->is_body_ready;

    if (!is_body_unread && !req->w->is_stopping)
        return;
    if (evhttp_find_header(out, "Connection") == NULL)
        evhttp_add_header(out, "Connection", "close");
    if (is_body_unread)
        lx_conn_linger(req->conn);
}

/* Hands the response to evhttp: the evhttp request is not ours after this. */
static void lx_req_handoff(lx_req *req)
{
    lx_worker *w = req->w;

    lx_req_unwatch(req);
    lx_conn_on_close(req->conn, lx_on_conn_closed_writing, w);
    evhttp_request_set_on_complete_cb(req->evreq, lx_on_complete, req->conn);
    w->n_writing++;
}

static void lx_req_send(lx_req *req, int status, const char *ctype, struct evbuffer *buf)
{
    struct evhttp_request *ev = req->evreq;
    struct evkeyvalq *out = evhttp_request_get_output_headers(ev);

    if (ctype != NULL && status != 204 && status != 304)
        evhttp_add_header(out, "Content-Type", ctype);
    lx_req_close_if_needed(req);
    req->status = status;
    req->bytes = buf ? evbuffer_get_length(buf) : 0;
    if (req->bytes > 0 && strcmp(req->method, "HEAD") == 0) {
        /* HEAD: the length the GET would have, and no body (libevent
         * 2.1 would write it) */
        char cl[32];
        snprintf(cl, sizeof(cl), "%zu", req->bytes);
        evhttp_add_header(out, "Content-Length", cl);
        req->bytes = 0;
        buf = NULL;
    }
    lx_req_handoff(req);
    evhttp_send_reply(ev, status, lx_status_reason(status), buf);
    req->evreq = NULL;
    req->evcon = NULL;
    req->conn = NULL;
    req->is_answered = 1;
    lx_req_log(req);
}

/* Ends a chunked reply (the last chunk) and hands the request to evhttp. */
static void lx_req_stream_end(lx_req *req)
{
    lx_req_handoff(req);
    evhttp_send_reply_end(req->evreq);
    req->evreq = NULL;
    req->evcon = NULL;
    req->conn = NULL;
    req->is_answered = 1;
    lx_req_log(req);
}

/* Writes {"error": message, "code": code}. */
static struct evbuffer *lx_error_body(const char *code, const char *message)
{
    struct evbuffer *buf = evbuffer_new();
    size_t mlen = message ? strlen(message) : 0;
    size_t clen = code ? strlen(code) : 0;
    size_t cap = 6 * (mlen > clen ? mlen : clen) + 1;
    char small[512];
    char *esc = cap <= sizeof(small) ? small : malloc(cap);

    if (buf == NULL || esc == NULL) {
        if (esc != small)
            free(esc);
        return buf;
    }
    evbuffer_add(buf, "{\"error\":\"", 10);
    lx_json_escape(esc, cap, message ? message : "");
    evbuffer_add(buf, esc, strlen(esc));
    evbuffer_add(buf, "\",\"code\":\"", 10);
    lx_json_escape(esc, cap, code ? code : "ERROR");
    evbuffer_add(buf, esc, strlen(esc));
    evbuffer_add(buf, "\"}", 2);
    if (esc != small)
        free(esc);
    return buf;
}

static void lx_req_core_error(lx_req *req, int status, const char *code, const char *message)
{
    struct evbuffer *buf = lx_error_body(code, message);
    lx_req_send(req, status, "application/json", buf);
    if (buf != NULL)
        evbuffer_free(buf);
}

static void lx_req_fire_aborts(lx_req *req)
{
    lx_abort_cb *a = req->aborts;
    req->aborts = NULL;
    req->busy++;
    for (; a != NULL; a = a->next)
        a->fn(req, a->arg);
    req->busy--;
}

/* Keeps what accessors need once the evhttp request is gone. */
static void lx_req_keep_inputs(lx_req *req)
{
    if (req->has_hdr_copy)
        return;
    TAILQ_INIT(&req->hdr_copy);
    req->has_hdr_copy = 1;
    if (req->in_headers != NULL) {
        struct evkeyval *kv;
        TAILQ_FOREACH(kv, req->in_headers, next)
        {
            evhttp_add_header(&req->hdr_copy, kv->key, kv->value);
        }
    }
    req->in_headers = &req->hdr_copy;
    if (req->raw_path != NULL)
        req->raw_path = lx_req_strdup(req, req->raw_path);
    if (req->query_str != NULL)
        req->query_str = lx_req_strdup(req, req->query_str);
    if (req->peer == NULL)
        (void)lx_req_peer(req);
}

/* The client went away, or the route timed out, while a plugin holds the
 * request: answer what can be answered and tell the plugin, once. */
static void lx_req_abort(lx_req *req, int is_timeout)
{
    if (req->is_answered)
        return;
    req->busy++;
    lx_req_keep_inputs(req);
    if (is_timeout && req->evreq != NULL) {
        req->is_timed_out = 1;
        if (req->is_streaming) {
            lx_req_stream_end(req);
        } else {
            lx_req_core_error(req, 504, "TIMEOUT", "the request took too long");
        }
    } else {
        req->is_gone = 1;
        req->is_answered = 1;
        req->evreq = NULL;
        req->evcon = NULL;
        req->conn = NULL;
        lx_req_unwatch(req);
        if (!req->is_streaming)
            req->status = 499; /* nginx's "client closed request" */
        lx_req_log(req);
    }
    lx_req_fire_aborts(req);
    req->busy--;
    lx_req_maybe_free(req);
}

static void lx_on_conn_closed_pending(void *arg)
{
    lx_req *req = arg;
    struct evhttp_request *ev = req->evreq;

    if (ev != NULL && evhttp_request_get_connection(ev) == NULL) {
        /* evhttp detached it (client EOF): it is ours to free */
        req->evreq = NULL;
        lx_req_keep_inputs(req);
        evhttp_request_free(ev);
    }
    /* otherwise evhttp frees it with the connection, right after us */
    req->evreq = NULL;
    lx_req_abort(req, 0);
}

static void lx_on_peer_closed(evutil_socket_t fd, short what, void *arg)
{
    lx_req *req = arg;
    struct evhttp_connection *evcon = req->evcon;
    (void)fd;
    (void)what;
    if (evcon == NULL || req->is_answered)
        return;
    lx_req_keep_inputs(req);
    lx_conn_on_close(req->conn, NULL, NULL);
    req->evreq = NULL; /* freed with the connection */
    req->evcon = NULL;
    req->conn = NULL;
    evhttp_connection_free(evcon);
    lx_req_abort(req, 0);
}

static void lx_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lx_req_abort(arg, 1);
}

/* A step went LX_ASYNC: watch the deadline and the peer. */
static void lx_req_hold(lx_req *req)
{
    req->is_held = 1;
    if (req->is_answered)
        return;
    if (req->ev_timeout == NULL && !req->is_streaming && req->route->timeout_ms > 0) {
        req->ev_timeout = evtimer_new(req->w->base, lx_on_timeout, req);
        if (req->ev_timeout != NULL) {
            struct timeval tv = {(time_t)(req->route->timeout_ms / 1000),
                                 (suseconds_t)((req->route->timeout_ms % 1000) * 1000)};
            evtimer_add(req->ev_timeout, &tv);
        }
    }
    if (req->ev_closed == NULL && req->evcon != NULL) {
        struct bufferevent *bev = evhttp_connection_get_bufferevent(req->evcon);
        evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
        if (fd >= 0) {
            req->ev_closed = event_new(req->w->base, fd, EV_CLOSED, lx_on_peer_closed, req);
            if (req->ev_closed != NULL)
                event_add(req->ev_closed, NULL);
        }
        lx_conn_on_close(req->conn, lx_on_conn_closed_pending, req);
    }
}

static void lx_req_release(lx_req *req)
{
    lx_worker *w = req->w;

    for (lx_cleanup *c = req->cleanups; c != NULL; c = c->next)
        c->fn(c->arg);
    for (lx_ctx_item *it = req->ctx, *nx; it != NULL; it = nx) {
        nx = it->next;
        if (it->free_val != NULL && it->val != NULL)
            it->free_val(it->val);
        free(it);
    }
    lx_req_unwatch(req);
    if (req->has_query)
        evhttp_clear_headers(&req->query);
    if (req->has_hdr_copy)
        evhttp_clear_headers(&req->hdr_copy);
    if (req->body != NULL)
        evbuffer_free(req->body);
    w->body_mem -= req->body_reserved < w->body_mem ? req->body_reserved : w->body_mem;
    free(req->path);
    for (lx_arena_block *b = req->blocks, *nx; b != NULL; b = nx) {
        nx = b->next;
        free(b);
    }
    if (req->prev != NULL)
        req->prev->next = req->next;
    else
        w->live = req->next;
    if (req->next != NULL)
        req->next->prev = req->prev;
    w->n_active--;
    if (w->n_spare < LX_REQ_MAX_SPARE) {
        req->next = w->spare;
        w->spare = req;
        w->n_spare++;
    } else {
        free(req);
    }
}

static void lx_req_maybe_free(lx_req *req)
{
    if (req->busy == 0 && req->is_answered && req->is_ended)
        lx_req_release(req);
}

void lx_req_free_all(lx_worker *w)
{
    while (w->live != NULL) {
        lx_req *req = w->live;
        if (req->evreq != NULL) {
            /* still attached: evhttp_free will free it with its connection */
            if (req->conn != NULL)
                lx_conn_detach(req->conn);
            req->evreq = NULL;
        }
        req->is_answered = req->is_ended = 1;
        req->busy = 0;
        lx_req_release(req);
    }
}

void lx_req_free_spares(lx_worker *w)
{
    while (w->spare != NULL) {
        lx_req *r = w->spare;
        w->spare = r->next;
        free(r);
    }
    w->n_spare = 0;
}

/* ------------------------------------------------------------------ */
/* Accessors                                                           */

const char *lx_req_method(lx_req *req)
{
    return req->method;
}

const char *lx_req_path(lx_req *req)
{
    if (req->path == NULL && req->raw_path != NULL)
        req->path = evhttp_uridecode(req->raw_path, 0, NULL);
    return req->path;
}

const char *lx_req_route(lx_req *req)
{
    return req->route ? req->route->pattern : NULL;
}

const char *lx_req_param(lx_req *req, const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < req->match.n_params; i++)
        if (strcmp(req->match.names[i], name) == 0)
            return req->match.values[i];
    return NULL;
}

const char *lx_req_query(lx_req *req, const char *name)
{
    if (req->query_str == NULL || name == NULL)
        return NULL;
    if (!req->has_query) {
        TAILQ_INIT(&req->query);
        req->has_query = 1;
        if (evhttp_parse_query_str(req->query_str, &req->query) != 0) {
            evhttp_clear_headers(&req->query);
            TAILQ_INIT(&req->query);
        }
    }
    return evhttp_find_header(&req->query, name);
}

const char *lx_req_header(lx_req *req, const char *name)
{
    if (req->in_headers == NULL || name == NULL)
        return NULL;
    return evhttp_find_header(req->in_headers, name);
}

const char *lx_req_body(lx_req *req, size_t *len)
{
    if (!req->is_body_ready) {
        /* a head-only step: the body is not read yet */
        if (len != NULL)
            *len = 0;
        return "";
    }
    if (req->body_flat == NULL) {
        if (req->body == NULL || evbuffer_get_length(req->body) == 0) {
            req->body_flat = "";
            req->body_len = 0;
        } else {
            req->body_len = evbuffer_get_length(req->body);
            evbuffer_add(req->body, "", 1); /* the NUL terminator */
            req->body_flat = (const char *)evbuffer_pullup(req->body, -1);
            if (req->body_flat == NULL) {
                req->body_flat = "";
                req->body_len = 0;
            }
        }
    }
    if (len != NULL)
        *len = req->body_len;
    return req->body_flat;
}

const char *lx_req_id(lx_req *req)
{
    return req->req_id;
}

const char *lx_req_peer(lx_req *req)
{
    if (req->peer == NULL && req->evcon != NULL) {
        char *addr = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(req->evcon, &addr, &port);
        if (addr != NULL)
            req->peer = lx_req_strdup(req, addr);
    }
    return req->peer;
}

lx_worker *lx_req_worker(lx_req *req)
{
    return req->w;
}

/* ------------------------------------------------------------------ */
/* Replies                                                             */

typedef struct lx_ref_hold {
    lx_free_fn fn;
} lx_ref_hold;

static void lx_ref_cleanup(const void *data, size_t len, void *extra)
{
    lx_ref_hold *h = extra;
    (void)len;
    h->fn((void *)(uintptr_t)data);
    free(h);
}

/* Adds body to buf according to its ownership; on failure still disposes
 * of it. Returns LX_OK or LX_ENOMEM. */
static int lx_buf_add_owned(struct evbuffer *buf, const void *body, size_t len, lx_free_fn fn)
{
    if (fn == LX_TRANSIENT)
        return len == 0 || evbuffer_add(buf, body, len) == 0 ? LX_OK : LX_ENOMEM;
    if (fn == LX_STATIC)
        return len == 0 || evbuffer_add_reference(buf, body, len, NULL, NULL) == 0 ? LX_OK
                                                                                   : LX_ENOMEM;
    if (len == 0) {
        fn((void *)(uintptr_t)body);
        return LX_OK;
    }
    lx_ref_hold *h = malloc(sizeof(*h));
    if (h == NULL) {
        fn((void *)(uintptr_t)body);
        return LX_ENOMEM;
    }
    h->fn = fn;
    if (evbuffer_add_reference(buf, body, len, lx_ref_cleanup, h) != 0) {
        free(h);
        fn((void *)(uintptr_t)body);
        return LX_ENOMEM;
    }
    return LX_OK;
}

static void lx_dispose(const void *body, lx_free_fn fn)
{
    if (body != NULL && fn != LX_STATIC && fn != LX_TRANSIENT)
        fn((void *)(uintptr_t)body);
}

/* The plugin ends its side; returns what the reply functions return when
 * the answer cannot go out. */
static int lx_req_end_unanswerable(lx_req *req)
{
    req->is_ended = 1;
    req->is_held = 0;
    lx_req_maybe_free(req);
    return LX_EGONE;
}

int lx_req_reply(lx_req *req, int status, const char *ctype, const void *body, size_t len,
                 lx_free_fn free_body)
{
    if (req->is_ended || req->is_streaming) {
        lx_dispose(body, free_body);
        return LX_ESTATE;
    }
    if (status < 100 || status > 599)
        status = 500;
    if (req->is_answered) {
        lx_dispose(body, free_body);
        return lx_req_end_unanswerable(req);
    }
    struct evbuffer *buf = evbuffer_new();
    if (buf == NULL) {
        lx_dispose(body, free_body);
        lx_req_core_error(req, 500, "INTERNAL", "out of memory");
    } else if (lx_buf_add_owned(buf, body, len, free_body) != LX_OK) {
        evbuffer_free(buf);
        lx_req_core_error(req, 500, "INTERNAL", "out of memory");
    } else {
        lx_req_send(req, status, ctype ? ctype : "application/octet-stream", buf);
        evbuffer_free(buf);
    }
    req->is_ended = 1;
    req->is_held = 0;
    lx_req_maybe_free(req);
    return LX_OK;
}

int lx_req_reply_json(lx_req *req, int status, const char *json)
{
    return lx_req_reply(req, status, "application/json", json, json ? strlen(json) : 0,
                        LX_TRANSIENT);
}

int lx_req_reply_error(lx_req *req, int status, const char *code, const char *message)
{
    if (req->is_ended || req->is_streaming)
        return LX_ESTATE;
    if (req->is_answered)
        return lx_req_end_unanswerable(req);
    if (status < 400 || status > 599)
        status = 500;
    lx_req_core_error(req, status, code, message);
    req->is_ended = 1;
    req->is_held = 0;
    lx_req_maybe_free(req);
    return LX_OK;
}

static int lx_header_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return 0;
    return 1;
}

int lx_req_set_header(lx_req *req, const char *name, const char *value)
{
    if (name == NULL || value == NULL || *name == '\0' || !lx_header_ok(name) ||
        !lx_header_ok(value) || strchr(name, ':') != NULL)
        return LX_EINVAL;
    if (req->is_ended || req->is_streaming)
        return LX_ESTATE;
    if (req->evreq == NULL)
        return LX_EGONE;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req->evreq);
    if (strcasecmp(name, "Content-Type") == 0 || strcasecmp(name, "Content-Length") == 0)
        evhttp_remove_header(out, name);
    return evhttp_add_header(out, name, value) == 0 ? LX_OK : LX_ENOMEM;
}

int lx_req_reply_start(lx_req *req, int status, const char *ctype)
{
    if (req->is_ended || req->is_streaming)
        return LX_ESTATE;
    if (req->is_answered)
        return LX_EGONE;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req->evreq);
    evhttp_add_header(out, "Content-Type", ctype ? ctype : "application/octet-stream");
    if (ctype != NULL && strncmp(ctype, "text/event-stream", 17) == 0) {
        evhttp_add_header(out, "Cache-Control", "no-cache");
        evhttp_add_header(out, "X-Accel-Buffering", "no");
    }
    lx_req_close_if_needed(req);
    req->is_streaming = 1;
    req->status = status;
    if (req->ev_timeout != NULL) { /* a stream may outlive the route timeout */
        event_free(req->ev_timeout);
        req->ev_timeout = NULL;
    }
    evhttp_send_reply_start(req->evreq, status, lx_status_reason(status));
    return LX_OK;
}

int lx_req_reply_chunk(lx_req *req, const void *data, size_t len, lx_free_fn free_data)
{
    if (!req->is_streaming || req->is_ended) {
        lx_dispose(data, free_data);
        return LX_ESTATE;
    }
    if (req->is_answered || req->evreq == NULL) {
        lx_dispose(data, free_data);
        return LX_EGONE;
    }
    struct evbuffer *buf = evbuffer_new();
    if (buf == NULL) {
        lx_dispose(data, free_data);
        return LX_ENOMEM;
    }
    int rc = lx_buf_add_owned(buf, data, len, free_data);
    if (rc == LX_OK) {
        req->bytes += len;
        evhttp_send_reply_chunk(req->evreq, buf);
    }
    evbuffer_free(buf);
    return rc;
}

int lx_req_reply_end(lx_req *req)
{
    if (!req->is_streaming || req->is_ended)
        return LX_ESTATE;
    req->is_ended = 1;
    req->is_held = 0;
    if (req->is_answered || req->evreq == NULL) {
        lx_req_maybe_free(req);
        return LX_EGONE;
    }
    lx_req_stream_end(req);
    lx_req_maybe_free(req);
    return LX_OK;
}

/* ------------------------------------------------------------------ */
/* WebSocket routes (core/websocket.c)                                 */

void lx_req_set_ws(lx_req *req, void *hs)
{
    req->ws_hs = hs;
}

void *lx_req_ws(lx_req *req)
{
    return req->ws_hs;
}

int lx_req_take_connection(lx_req *req, struct evhttp_request **evreq,
                           struct evhttp_connection **evcon)
{
    if (req->is_ended || req->is_streaming)
        return LX_ESTATE;
    if (req->is_answered)
        return lx_req_end_unanswerable(req);
    lx_req_unwatch(req);
    if (req->conn != NULL)
        lx_conn_take_over(req->conn); /* head vetting, its timer and hooks stop */
    *evreq = req->evreq;
    *evcon = req->evcon;
    req->evreq = NULL;
    req->evcon = NULL;
    req->conn = NULL;
    req->status = 101;
    req->bytes = 0;
    req->is_answered = 1;
    req->is_ended = 1;
    req->is_held = 0;
    lx_req_log(req);
    lx_req_maybe_free(req);
    return LX_OK;
}

/* ------------------------------------------------------------------ */
/* Context                                                             */

int lx_req_ctx_set(lx_req *req, const char *key, void *val, lx_free_fn free_val)
{
    if (key == NULL)
        return LX_EINVAL;
    for (lx_ctx_item *it = req->ctx; it != NULL; it = it->next)
        if (strcmp(it->key, key) == 0) {
            if (it->free_val != NULL && it->val != NULL && it->val != val)
                it->free_val(it->val);
            it->val = val;
            it->free_val = free_val;
            return LX_OK;
        }
    size_t klen = strlen(key);
    lx_ctx_item *it = malloc(sizeof(*it) + klen + 1);
    if (it == NULL) {
        if (free_val != NULL && val != NULL)
            free_val(val);
        return LX_ENOMEM;
    }
    memcpy(it->key, key, klen + 1);
    it->val = val;
    it->free_val = free_val;
    it->next = req->ctx;
    req->ctx = it;
    return LX_OK;
}

void *lx_req_ctx_get(lx_req *req, const char *key)
{
    if (key == NULL)
        return NULL;
    for (lx_ctx_item *it = req->ctx; it != NULL; it = it->next)
        if (strcmp(it->key, key) == 0)
            return it->val;
    return NULL;
}

void lx_req_set_user(lx_req *req, const char *uid)
{
    req->uid = uid ? lx_req_strdup(req, uid) : NULL;
}

/* ------------------------------------------------------------------ */
/* Asynchronous completion                                             */

int lx_req_on_abort(lx_req *req, void (*fn)(lx_req *req, void *arg), void *arg)
{
    if (fn == NULL)
        return LX_EINVAL;
    if (req->is_answered)
        return LX_EGONE;
    lx_abort_cb *a = lx_req_alloc(req, sizeof(*a));
    if (a == NULL)
        return LX_ENOMEM;
    a->fn = fn;
    a->arg = arg;
    a->next = req->aborts;
    req->aborts = a;
    return LX_OK;
}

int lx_req_is_gone(lx_req *req)
{
    return req->is_gone || req->is_timed_out;
}

void lx_req_resume(lx_req *req, lx_rc rc)
{
    if (req->is_ended || !req->is_held)
        return; /* a resume without a pending LX_ASYNC is ignored */
    req->is_held = 0;
    if (rc == LX_NEXT && !req->is_answered) {
        req->step++;
        lx_req_run(req);
        return;
    }
    if (!req->is_answered)
        lx_req_core_error(req, 500, "INTERNAL",
                          rc == LX_DONE ? "a handler ended the request without a reply"
                                        : "the request failed");
    req->is_ended = 1;
    lx_req_maybe_free(req);
}

/* ------------------------------------------------------------------ */
/* The body                                                            */

/* The bytes a route admits: its max_body, and for multipart/form-data the
 * allowance for the parts' boundaries and headers, so that max_body counts
 * the file (the storage plugin checks the file part itself). */
static size_t lx_req_body_limit(lx_req *req)
{
    const char *ct = lx_req_header(req, "Content-Type");
    size_t limit = req->route->max_body;
    if (ct != NULL && strncasecmp(ct, "multipart/form-data", 19) == 0)
        limit += req->w->rt->conf->server.multipart_allowance;
    return limit;
}

/* The client went away while its body was being read (is_closing: evhttp
 * is freeing the connection already): as lx_on_peer_closed, for a request
 * no plugin holds. */
static void lx_req_body_lost(lx_req *req, int is_closing)
{
    struct evhttp_connection *evcon = req->evcon;

    lx_req_keep_inputs(req);
    lx_conn_on_close(req->conn, NULL, NULL);
    req->evreq = NULL; /* freed with the connection */
    req->evcon = NULL;
    req->conn = NULL;
    req->busy++;
    if (!is_closing && evcon != NULL)
        evhttp_connection_free(evcon);
    lx_req_abort(req, 0);
    req->busy--;
    req->is_ended = 1;
    lx_req_maybe_free(req);
}

/* lx_conn's answer to lx_req_read_body. */
static void lx_req_on_body(void *arg, int status, const char *code, const char *message)
{
    lx_req *req = arg;

    if (status == 0) {
        req->is_body_ready = 1;
        lx_req_run(req);
    } else if (status == LX_BODY_GONE || status == LX_BODY_CLOSED) {
        lx_req_body_lost(req, status == LX_BODY_CLOSED);
    } else {
        lx_req_core_error(req, status, code, message);
        req->is_ended = 1;
        lx_req_maybe_free(req);
    }
}

/* Reads the body before the first step that needs it. Returns 0 when it is
 * there, 1 when it is being read (lx_req_on_body goes on), -1 when the
 * request was refused. */
static int lx_req_read_body(lx_req *req)
{
    const lx_server_conf *sc = &req->w->rt->conf->server;
    int status = 0;
    const char *code = NULL, *message = NULL;

    if (!req->has_body) {
        req->is_body_ready = 1;
        return 0;
    }
    if (req->body == NULL && (req->body = evbuffer_new()) == NULL) {
        lx_req_core_error(req, 500, "INTERNAL", "out of memory");
        return -1;
    }
    /* while the body comes, the connection watches the client and the
     * deadline (not the route's timeout) */
    lx_req_unwatch(req);
    lx_conn_on_close(req->conn, NULL, NULL);
    lx_body_job job = {
        .dst = req->body,
        .limit = lx_req_body_limit(req),
        .timeout_ms = req->route->body_timeout_ms,
        .min_rate = sc->body_min_rate,
        .reserved = &req->body_reserved,
        .done = lx_req_on_body,
        .arg = req,
    };
    int rc = lx_conn_read_body(req->conn, &job, &status, &code, &message);
    if (rc == 0) {
        req->is_body_ready = 1;
        return 0;
    }
    if (rc > 0)
        return 1;
    lx_req_core_error(req, status, code, message);
    return -1;
}

/* Runs steps from req->step on; stops at the end, a reply, or LX_ASYNC. */
static void lx_req_run(lx_req *req)
{
    const lx_route *route = req->route;

    req->busy++;
    while (req->step < route->n_steps) {
        const lx_step *s = &route->steps[req->step];
        if (!req->is_body_ready && !s->is_head_only) {
            int rc = lx_req_read_body(req);
            if (rc < 0)
                req->is_ended = 1;
            if (rc != 0)
                break;
        }
        lx_rc rc = s->fn(req, s->state);

        if (req->is_ended)
            break; /* replied: whatever it returned */
        if (rc == LX_ASYNC) {
            lx_req_hold(req);
            break;
        }
        if (rc == LX_NEXT && s->is_middleware && !req->is_answered) {
            req->step++;
            continue;
        }
        if (!req->is_answered) {
            const char *why = rc == LX_FAIL ? "the request failed"
                              : rc == LX_NEXT ? "the handler passed the request on to nothing"
                                              : "a handler ended the request without a reply";
            if (rc != LX_FAIL)
                lx_log(LX_LOG_ERROR, "core", req->req_id, "%s: %s", s->name, why);
            lx_req_core_error(req, 500, "INTERNAL", why);
        }
        req->is_ended = 1;
        break;
    }
    if (req->step >= route->n_steps && !req->is_ended && !req->is_held) {
        lx_req_core_error(req, 500, "INTERNAL", "no handler answered");
        req->is_ended = 1;
    }
    req->busy--;
    lx_req_maybe_free(req);
}

/* ------------------------------------------------------------------ */
/* The entry point                                                     */

static const char *lx_method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "UNKNOWN";
}

static int lx_req_id_is_sane(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (n >= LX_REQ_ID_MAX)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return n > 0;
}

static lx_req *lx_req_new(lx_worker *w)
{
    lx_req *req = w->spare;
    if (req != NULL) {
        w->spare = req->next;
        w->n_spare--;
    } else {
        req = malloc(sizeof(*req));
        if (req == NULL)
            return NULL;
    }
    memset(req, 0, offsetof(lx_req, match));
    req->match.n_params = 0;
    req->w = w;
    req->next = w->live;
    if (w->live != NULL)
        w->live->prev = req;
    w->live = req;
    w->n_active++;
    return req;
}

/* Out of memory before there is an lx_req: a bare JSON 503, and close. */
static void lx_req_refuse_bare(struct evhttp_request *evreq)
{
    static const char body[] = "{\"error\":\"out of memory\",\"code\":\"SERVER_BUSY\"}";
    struct evkeyvalq *out = evhttp_request_get_output_headers(evreq);
    struct evbuffer *buf = evbuffer_new();

    evhttp_add_header(out, "Content-Type", "application/json");
    evhttp_add_header(out, "Connection", "close");
    if (buf != NULL)
        evbuffer_add_reference(buf, body, sizeof(body) - 1, NULL, NULL);
    evhttp_send_reply(evreq, 503, "Service Unavailable", buf);
    if (buf != NULL)
        evbuffer_free(buf);
}

/* The framing fields were renamed before evhttp read the head (so that it
 * would not read a body): plugins see them under their own names again. */
static void lx_req_restore_framing(lx_req *req, const lx_head *h)
{
    char num[32];
    if (h->has_length) {
        evhttp_remove_header(req->in_headers, LX_HTTP_CL_ALIAS);
        snprintf(num, sizeof(num), "%llu", (unsigned long long)h->length);
        evhttp_add_header(req->in_headers, "Content-Length", num);
    }
    if (h->is_chunked) {
        evhttp_remove_header(req->in_headers, LX_HTTP_TE_ALIAS);
        evhttp_add_header(req->in_headers, "Transfer-Encoding", "chunked");
    }
}

void lx_req_on_request(struct evhttp_request *evreq, void *arg)
{
    lx_worker *w = arg;
    const lx_server_conf *sc = &w->rt->conf->server;
    lx_conn *conn = lx_conn_of(w, evhttp_request_get_connection(evreq));
    const lx_conn_head *ch = conn ? lx_conn_take_head(conn) : NULL;
    lx_req *req = conn ? lx_req_new(w) : NULL;

    if (req == NULL) {
        if (conn != NULL)
            lx_conn_linger(conn);
        lx_req_refuse_bare(evreq);
        return;
    }
    req->start_us = lx_now_us();
    req->evreq = evreq;
    req->evcon = evhttp_request_get_connection(evreq);
    req->conn = conn;
    req->in_headers = evhttp_request_get_input_headers(evreq);
    req->method = lx_method_name(evhttp_request_get_command(evreq));
    req->is_ended = 0;
    req->has_body = lx_head_has_body(&ch->head);
    lx_metrics_request_start(w->rt->metrics, w->index);

    const char *rid = evhttp_find_header(req->in_headers, "X-Request-Id");
    if (rid != NULL && lx_req_id_is_sane(rid)) {
        memcpy(req->req_id, rid, strlen(rid) + 1);
    } else {
        /* 8 hex digits of the worker's random prefix, 8 of a counter */
        static const char hex[] = "0123456789abcdef";
        uint64_t v = ((uint64_t)w->rid_prefix << 32) | (uint32_t)++w->rid_counter;
        for (int i = 15; i >= 0; i--, v >>= 4)
            req->req_id[i] = hex[v & 15];
        req->req_id[16] = '\0';
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(evreq);
    evhttp_add_header(out, "X-Request-Id", req->req_id);

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(evreq);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    req->raw_path = (path != NULL && *path != '\0') ? path : "/";
    req->query_str = uri ? evhttp_uri_get_query(uri) : NULL;

    if (ch->head.status != 0) {
        /* the head was refused before evhttp saw it: log what the client
         * sent, answer, close */
        req->method = ch->method[0] ? lx_req_strdup(req, ch->method) : "-";
        req->raw_path = ch->target[0] ? lx_req_strdup(req, ch->target) : "-";
        req->query_str = NULL;
        req->has_body = 1;
        lx_req_core_error(req, ch->head.status, ch->head.code, ch->head.message);
        goto ended;
    }
    lx_req_restore_framing(req, &ch->head);

    /* CORS */
    const char *origin =
        lx_cors_allowed(sc, evhttp_find_header(req->in_headers, "Origin"), req->req_id);
    if (origin != NULL) {
        evhttp_add_header(out, "Access-Control-Allow-Origin", origin);
        evhttp_add_header(out, "Vary", "Origin");
        evhttp_add_header(out, "Access-Control-Allow-Credentials", "true");
        evhttp_add_header(out, "Access-Control-Expose-Headers", "X-Request-Id");
    }

    char allow[128];
    lx_route_status st =
        lx_router_match(w->rt->router, req->method, req->raw_path, &req->match, allow,
                        sizeof(allow));

    /* A preflight from an allowed origin: 204 whatever the path (cors.c). */
    if (origin != NULL && st != LX_ROUTE_FOUND && strcmp(req->method, "OPTIONS") == 0 &&
        lx_cors_preflight(req->in_headers, out, sc, w->rt->router, req->raw_path)) {
        lx_req_send(req, 204, NULL, NULL);
        req->is_ended = 1;
        lx_req_maybe_free(req);
        return;
    }
    if (strcmp(req->method, "OPTIONS") == 0 && st != LX_ROUTE_FOUND) {
        if (st == LX_ROUTE_BAD_PATH) {
            lx_req_core_error(req, 400, "BAD_PATH", "the request path is malformed");
        } else if (lx_router_allowed(w->rt->router, req->raw_path, allow, sizeof(allow)) == 0) {
            lx_req_core_error(req, 404, "NOT_FOUND", "no route for this path");
        } else {
            evhttp_add_header(out, "Allow", allow);
            lx_req_send(req, 204, NULL, NULL);
        }
        req->is_ended = 1;
        lx_req_maybe_free(req);
        return;
    }

    switch (st) {
    case LX_ROUTE_FOUND:
        break;
    case LX_ROUTE_METHOD_NOT_ALLOWED:
        if (lx_ws_is_upgrade(evhttp_find_header(req->in_headers, "Upgrade"))) {
            lx_req_core_error(req, 400, "BAD_HANDSHAKE", "a WebSocket handshake is a GET request");
            goto ended;
        }
        evhttp_add_header(out, "Allow", allow);
        lx_req_core_error(req, 405, "METHOD_NOT_ALLOWED", "this route does not accept that method");
        goto ended;
    case LX_ROUTE_BAD_PATH:
        lx_req_core_error(req, 400, "BAD_PATH", "the request path is malformed");
        goto ended;
    case LX_ROUTE_NOT_FOUND:
    default:
        lx_req_core_error(req, 404, "NOT_FOUND", "no route for this path");
        goto ended;
    }

    req->route = req->match.data;
    if (lx_ws_route_check(req, req->route, 0))
        return; /* answered: req may be gone */
    if (ch->head.has_length && ch->head.length > lx_req_body_limit(req)) {
        /* refused at head time: the body is never read */
        lx_req_core_error(req, 413, "BODY_TOO_LARGE", "the request body is larger than allowed");
        goto ended;
    }
    lx_req_run(req);
    return;
ended:
    req->is_ended = 1;
    lx_req_maybe_free(req);
}
