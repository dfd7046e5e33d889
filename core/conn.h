/*
 * Client connections. libevent 2.1's evhttp reads a request's head and body
 * before it calls anyone, with its own lenient parser, and answers what it
 * cannot parse with an HTML page. So the core makes each connection's
 * bufferevent itself (evhttp_set_bevcb) and stands between the socket and
 * evhttp:
 *
 *   - every head is checked by the strict parser of core/http_parse.c before
 *     evhttp may read it (an input-buffer callback runs after each read, in
 *     front of evhttp's read callback); a partial head waits in the
 *     connection, out of evhttp's sight, under a total deadline
 *     (server.header_timeout); a bad one is replaced by a small synthetic
 *     request that the core answers with the JSON error and closes;
 *   - a good head is handed over with its framing fields renamed
 *     (LX_HTTP_CL_ALIAS, LX_HTTP_TE_ALIAS), so evhttp dispatches the request
 *     as soon as the head is read and never reads a body: the core decides
 *     at head time (route, method, max_body, head-only middleware) and reads
 *     the body itself when a step needs it (lx_conn_read_body);
 *   - a connection holds at most server.max_unsent bytes it has not
 *     processed (a read watermark, set when it gets there): a client that
 *     pipelines without reading stops being read, and evhttp's write
 *     timeout drops it;
 *   - connections are counted: at server.max_connections the worker stops
 *     accepting until one closes;
 *   - a connection closed with input left unread lingers a few seconds,
 *     reading and dropping, so that the client reads the answer.
 *
 * Everything here runs on the worker's loop. Taking a connection over after
 * a 101 (WebSockets) means: stop being an HTTP connection (the core no
 * longer vets heads), keep the counting and the close notification.
 */
#ifndef LX_CORE_CONN_H
#define LX_CORE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "http_parse.h"

struct bufferevent;
struct event_base;
struct evbuffer;
struct evhttp_connection;
typedef struct lx_worker lx_worker;
typedef struct lx_conn lx_conn;

/* What the core knows of the head evhttp has just dispatched. */
typedef struct lx_conn_head {
    lx_head head;    /* framing and, when status != 0, the error */
    char method[16]; /* for the access log of a refused head */
    char target[128];
} lx_conn_head;

/* evhttp's bevcb: makes the connection's bufferevent and its lx_conn, counts
 * it, and stops accepting at max_connections. `arg` is the lx_worker. */
struct bufferevent *lx_conn_bevcb(struct event_base *base, void *arg);

/* The lx_conn of an evhttp connection, or NULL. */
lx_conn *lx_conn_of(lx_worker *w, struct evhttp_connection *evcon);

/* gencb: evhttp has dispatched the head vetted last; the connection is busy
 * with this request until lx_conn_response_done. The returned head is
 * borrowed until then. */
const lx_conn_head *lx_conn_take_head(lx_conn *c);

/* evhttp finished writing the response (its on_complete callback): the next
 * head, if any is buffered, is vetted before evhttp reads it. */
void lx_conn_response_done(lx_conn *c);

/* The response about to go out closes the connection while input may still
 * come: linger after the close (read and drop for a few seconds). */
void lx_conn_linger(lx_conn *c);

/* A 101 (WebSockets, core/websocket.c) takes the connection over: its
 * bytes are no longer HTTP. The core stops vetting heads (the input
 * callback is disabled) and throttling reads, stops the connection's timer
 * and removes the request's close hook; the counting and the close
 * notification stay: the session ends the connection with
 * evhttp_connection_free, which reaches lx_conn_closed as always. */
void lx_conn_take_over(lx_conn *c);

/* fn(arg) runs once when evhttp frees the connection, before it frees the
 * request on it; a NULL fn removes the hook. One hook at a time. */
void lx_conn_on_close(lx_conn *c, void (*fn)(void *arg), void *arg);

/* The request on c is gone before its reply (worker exit): removes its
 * hook, and drops the body job if one is running (done does not run). */
void lx_conn_detach(lx_conn *c);

/* Reading a request body. `done` is called once with status 0 when the
 * body is complete, an HTTP status (400 BAD_CHUNK, 408 REQUEST_TIMEOUT, 413
 * BODY_TOO_LARGE, 503 SERVER_BUSY) with its error, or LX_BODY_GONE when the
 * client went away (the request should free the connection) or
 * LX_BODY_CLOSED when evhttp is freeing it already. */
enum { LX_BODY_GONE = -1, LX_BODY_CLOSED = -2 };

typedef struct lx_body_job {
    struct evbuffer *dst; /* the body goes here */
    size_t limit;         /* bytes allowed (route max_body, + allowance) */
    long long timeout_ms; /* a body may take this long, plus min_rate */
    size_t min_rate;      /* every min_rate bytes received add a second */
    size_t *reserved;     /* the request's share of server.max_body_memory */
    void (*done)(void *arg, int status, const char *code, const char *message);
    void *arg;
} lx_body_job;

/* Starts reading the body of the current request (after lx_conn_take_head).
 * Returns 0 when the body is already complete (or there is none), 1 when it
 * is being read (job->done runs later, exactly once), or -1 when refused
 * now: *status, *code, *message are set (done does not run). Sends 100
 * Continue first when the client asked for it. */
int lx_conn_read_body(lx_conn *c, const lx_body_job *job, int *status, const char **code,
                      const char **message);

/* The worker's event for connections to adopt or to reap (worker.c makes
 * it with arg = the worker; the bevcb and the close callback activate it). */
void lx_conn_on_pending(evutil_socket_t fd, short what, void *arg);

lx_worker *lx_conn_worker(const lx_conn *c);

/* Worker exit, after evhttp_free: frees every connection left. */
void lx_conn_free_all(lx_worker *w);

#endif
