#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <wslay/wslay.h>

#include <lexiaid/utf8.h>
#include "log.h"
#include "worker.h"
#include "ws_session.h"

#define LX_WS_ID_MAX 64
#define LX_WS_REASON_MAX 123

/* A message read while the session was held, delivered after ws_resume. */
typedef struct lx_ws_msg {
    struct lx_ws_msg *next;
    int type;
    size_t len;
    unsigned char data[];
} lx_ws_msg;

struct lx_ws {
    lx_worker *w;
    lx_ws *prev, *next;              /* w->ws_live */
    struct bufferevent *bev;         /* NULL once the connection is gone */
    struct evhttp_connection *evcon; /* owns bev, when set */
    wslay_event_context_ptr ctx;     /* NULL once the connection is gone */
    struct event *ev;                /* timers, and work deferred to the loop */
    lx_ws_handler h;                 /* the plugin's callbacks (members its
                                        struct_size covers); none: only closes */
    void *arg;
    lx_ws_limits lim;
    lx_ws_msg *pend, *pend_tail; /* read while held, in order */
    uint64_t t_rx;               /* last bytes from the peer */
    uint64_t t_msg;              /* last message either way */
    uint64_t t_ping;             /* our unanswered ping */
    uint64_t t_close;            /* our close frame queued */
    uint64_t t_stall;            /* output last empty, or last drained */
    uint64_t t_timer;            /* when ev is due; 0 when not armed */
    uint64_t t_start;
    uint64_t n_in, n_out, b_in, b_out;
    int busy;                     /* > 0 while code up the stack uses ws */
    int close_code;               /* asked for by ws_close or the core; 0 when none */
    int end_code;                 /* what on_close gets */
    char *close_reason;           /* malloc'd, with close_code */
    char *peer_reason;            /* malloc'd, from the peer's close frame */
    unsigned is_held : 1;         /* on_message returned LX_ASYNC; no ws_resume yet */
    unsigned is_closing : 1;      /* close_code set: no sends, no more messages */
    unsigned is_close_queued : 1; /* close_code handed to wslay */
    unsigned is_peer_closed : 1;  /* the peer's close frame arrived */
    unsigned is_gone : 1;         /* the connection is gone */
    unsigned is_closed_cb : 1;    /* on_close has run (or there is none) */
    unsigned is_reading : 1;      /* EV_READ enabled on bev */
    unsigned is_read_paused : 1;  /* too much queued: reads stopped */
    unsigned is_awaiting_pong : 1;
    unsigned is_in_io : 1;  /* inside wslay_event_recv/send */
    unsigned is_failed : 1; /* wslay or the socket failed: drop soon */
    char req_id[LX_WS_ID_MAX + 1];
};

static void lx_ws_pump(lx_ws *ws);
static void lx_ws_settle(lx_ws *ws);
static void lx_ws_arm(lx_ws *ws, uint64_t now);

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

int lx_ws_code_ok(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

/* UTF-8 where NUL is a character like any other (lx_utf8_valid refuses it). */
static int lx_ws_utf8_ok(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        int is_ok;
        size_t n = lx_utf8_next(s + i, len - i, NULL, &is_ok);
        if (!is_ok)
            return 0;
        i += n;
    }
    return 1;
}

int lx_ws_reason_ok(const char *reason)
{
    if (reason == NULL)
        return 1;
    size_t len = strlen(reason);
    return len <= LX_WS_REASON_MAX && lx_ws_utf8_ok((const unsigned char *)reason, len);
}

static lx_metrics *lx_ws_metrics(const lx_ws *ws)
{
    return ws->w->rt != NULL ? ws->w->rt->metrics : NULL;
}

/* Bytes of messages queued in wslay (the one being written included) and
 * of frames in the socket's output buffer. */
size_t lx_ws_queued(lx_ws *ws)
{
    if (ws == NULL || ws->ctx == NULL || ws->bev == NULL)
        return 0;
    return wslay_event_get_queued_msg_length(ws->ctx) +
           evbuffer_get_length(bufferevent_get_output(ws->bev));
}

/* Over this many queued bytes the core stops reading from the peer. */
static size_t lx_ws_read_limit(const lx_ws *ws)
{
    return ws->lim.max_message > LX_WS_OUTBUF ? ws->lim.max_message : LX_WS_OUTBUF;
}

static void lx_ws_kick(lx_ws *ws)
{
    event_active(ws->ev, EV_TIMEOUT, 0);
}

/* ------------------------------------------------------------------ */
/* wslay's callbacks                                                   */

static ssize_t lx_ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                             void *user)
{
    lx_ws *ws = user;
    (void)flags;
    /* While held, wslay gets nothing more: it finishes what it holds in
     * its own buffer (those messages wait in pend) and stops. */
    if (ws->bev == NULL || ws->is_held || ws->pend != NULL) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    int n = evbuffer_remove(bufferevent_get_input(ws->bev), buf, len);
    if (n <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    ws->t_rx = lx_now_us();
    ws->is_awaiting_pong = 0;
    return n;
}

static ssize_t lx_ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                             int flags, void *user)
{
    lx_ws *ws = user;
    (void)flags;
    struct evbuffer *out = bufferevent_get_output(ws->bev);
    size_t have = evbuffer_get_length(out);

    if (have >= LX_WS_OUTBUF) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (len > LX_WS_OUTBUF - have)
        len = LX_WS_OUTBUF - have;
    if (evbuffer_add(out, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    if (have == 0)
        ws->t_stall = lx_now_us();
    return (ssize_t)len;
}

static void lx_ws_pend(lx_ws *ws, int type, const uint8_t *data, size_t len)
{
    lx_ws_msg *m = malloc(sizeof(*m) + len);
    if (m == NULL) {
        ws->is_failed = 1;
        return;
    }
    m->next = NULL;
    m->type = type;
    m->len = len;
    if (len > 0)
        memcpy(m->data, data, len);
    if (ws->pend_tail != NULL)
        ws->pend_tail->next = m;
    else
        ws->pend = m;
    ws->pend_tail = m;
}

/* Hands one message to the plugin. */
static void lx_ws_deliver(lx_ws *ws, int type, const void *data, size_t len)
{
    ws->busy++;
    lx_rc rc = ws->h.on_message(ws, type, data, len, ws->arg);
    ws->busy--;
    if (rc == LX_ASYNC) {
        ws->is_held = 1;
    } else if (rc == LX_FAIL && !ws->is_closing) {
        lx_log(LX_LOG_WARN, "websocket", ws->req_id, "on_message failed: closing with 1011");
        lx_ws_close(ws, LX_WS_INTERNAL, "internal error");
    }
}

static void lx_ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                         void *user)
{
    lx_ws *ws = user;
    (void)ctx;

    if (a->opcode == WSLAY_PONG) {
        ws->is_awaiting_pong = 0;
        return;
    }
    if (a->opcode == WSLAY_CONNECTION_CLOSE) {
        ws->is_peer_closed = 1;
        ws->end_code = a->status_code != 0 ? a->status_code : LX_WS_NO_STATUS;
        if (a->msg_length > 2 && ws->peer_reason == NULL) {
            ws->peer_reason = malloc(a->msg_length - 1);
            if (ws->peer_reason != NULL) {
                memcpy(ws->peer_reason, a->msg + 2, a->msg_length - 2);
                ws->peer_reason[a->msg_length - 2] = '\0';
            }
        }
        return;
    }
    if (a->opcode != WSLAY_TEXT_FRAME && a->opcode != WSLAY_BINARY_FRAME)
        return;
    int type = a->opcode == WSLAY_TEXT_FRAME ? LX_WS_TEXT : LX_WS_BINARY;
    ws->t_msg = lx_now_us();
    ws->n_in++;
    ws->b_in += a->msg_length;
    lx_metrics_ws_message(lx_ws_metrics(ws), ws->w->index, 0, a->msg_length);
    if (ws->is_closing || ws->h.on_message == NULL)
        return;
    if (ws->is_held || ws->pend != NULL)
        lx_ws_pend(ws, type, a->msg, a->msg_length);
    else
        lx_ws_deliver(ws, type, a->msg, a->msg_length);
}

static const struct wslay_event_callbacks lx_ws_callbacks = {
    .recv_callback = lx_ws_recv_cb,
    .send_callback = lx_ws_send_cb,
    .on_msg_recv_callback = lx_ws_on_msg,
};

/* ------------------------------------------------------------------ */
/* The end of a session                                                */

static void lx_ws_free(lx_ws *ws)
{
    lx_worker *w = ws->w;

    for (lx_ws_msg *m = ws->pend, *nx; m != NULL; m = nx) {
        nx = m->next;
        free(m);
    }
    if (ws->prev != NULL)
        ws->prev->next = ws->next;
    else
        w->ws_live = ws->next;
    if (ws->next != NULL)
        ws->next->prev = ws->prev;
    w->n_ws--;
    if (ws->ev != NULL)
        event_free(ws->ev);
    free(ws->close_reason);
    free(ws->peer_reason);
    free(ws);
}

/* Ends the connection. `code` is what on_close gets when neither side's
 * close frame says better. Never called inside a wslay call. */
static void lx_ws_drop(lx_ws *ws, int code)
{
    if (ws->is_gone)
        return;
    ws->is_gone = 1;
    if (!ws->is_peer_closed) {
        if (ws->ctx != NULL && wslay_event_get_close_sent(ws->ctx))
            ws->end_code = wslay_event_get_status_code_sent(ws->ctx);
        else
            ws->end_code = code;
    }
    if (ws->evcon != NULL)
        evhttp_connection_free(ws->evcon); /* frees bev, closes the socket */
    else if (ws->bev != NULL)
        bufferevent_free(ws->bev);
    ws->evcon = NULL;
    ws->bev = NULL;
    if (ws->ctx != NULL)
        wslay_event_context_free(ws->ctx);
    ws->ctx = NULL;
    if (ws->t_timer != 0) {
        event_del(ws->ev);
        ws->t_timer = 0;
    }
    lx_metrics_ws_open(lx_ws_metrics(ws), ws->w->index, -1);
    lx_metrics_ws_close(lx_ws_metrics(ws), ws->w->index, ws->end_code);
    lx_log(LX_LOG_INFO, "websocket", ws->req_id,
           "session closed: code %d; %llu messages in (%llu bytes), %llu out (%llu bytes); "
           "%.3f s",
           ws->end_code, (unsigned long long)ws->n_in, (unsigned long long)ws->b_in,
           (unsigned long long)ws->n_out, (unsigned long long)ws->b_out,
           (double)(lx_now_us() - ws->t_start) / 1e6);
}

/* Delivers what is due now that nothing holds the session: the messages
 * read while it was held, then (once the connection is gone) on_close;
 * frees the session when it is over. */
static void lx_ws_settle(lx_ws *ws)
{
    ws->busy++;
    while (!ws->is_held && ws->pend != NULL) {
        lx_ws_msg *m = ws->pend;
        ws->pend = m->next;
        if (ws->pend == NULL)
            ws->pend_tail = NULL;
        if (!ws->is_closing && ws->h.on_message != NULL)
            lx_ws_deliver(ws, m->type, m->data, m->len);
        free(m);
    }
    if (ws->is_gone && !ws->is_held && ws->pend == NULL && !ws->is_closed_cb) {
        ws->is_closed_cb = 1;
        if (ws->h.on_close != NULL)
            ws->h.on_close(ws, ws->end_code, ws->peer_reason ? ws->peer_reason : "", ws->arg);
    }
    ws->busy--;
    if (ws->busy == 0 && ws->is_gone && ws->is_closed_cb)
        lx_ws_free(ws);
}

/* ------------------------------------------------------------------ */
/* Moving bytes                                                        */

/* Encodes queued messages into the socket's output buffer; queues the
 * close frame asked for once the messages before it are all encoded. */
static void lx_ws_flush(lx_ws *ws)
{
    if (ws->ctx == NULL || ws->is_in_io)
        return;
    ws->is_in_io = 1;
    if (ws->is_closing && !ws->is_close_queued && !wslay_event_want_write(ws->ctx)) {
        size_t rlen = ws->close_reason ? strlen(ws->close_reason) : 0;
        /* WSLAY_ERR_NO_MORE_MSG: the peer's close came first and is answered */
        (void)wslay_event_queue_close(ws->ctx, (uint16_t)ws->close_code,
                                      (const uint8_t *)ws->close_reason, rlen);
        ws->is_close_queued = 1;
        ws->t_close = lx_now_us();
    }
    if (wslay_event_send(ws->ctx) != 0)
        ws->is_failed = 1;
    ws->is_in_io = 0;
}

/* Stops reading from the peer while too much is queued for it, and reads
 * again once half of that is written (hysteresis). */
static void lx_ws_update_pause(lx_ws *ws)
{
    size_t queued = lx_ws_queued(ws);
    size_t limit = lx_ws_read_limit(ws);

    if (ws->is_read_paused && queued <= limit / 2)
        ws->is_read_paused = 0;
    else if (!ws->is_read_paused && queued > limit)
        ws->is_read_paused = 1;
}

static int lx_ws_may_read(const lx_ws *ws)
{
    return !ws->is_gone && !ws->is_held && ws->pend == NULL && !ws->is_read_paused &&
           wslay_event_want_read(ws->ctx);
}

/* Enables or disables reading on bev as the session's state wants. */
static void lx_ws_set_reading(lx_ws *ws)
{
    lx_ws_update_pause(ws);
    int want = lx_ws_may_read(ws);
    if (want && !ws->is_reading) {
        bufferevent_enable(ws->bev, EV_READ);
        ws->t_rx = lx_now_us(); /* the ping clock starts again */
        ws->is_awaiting_pong = 0;
    } else if (!want && ws->is_reading) {
        bufferevent_disable(ws->bev, EV_READ);
    }
    ws->is_reading = (unsigned)want;
}

/* Reads and writes what can be, then ends the connection if it failed or
 * both close frames are through. */
static void lx_ws_pump(lx_ws *ws)
{
    if (ws->is_gone || ws->is_in_io)
        return;
    ws->busy++;
    if (!ws->is_held && ws->pend != NULL)
        lx_ws_settle(ws);
    if (!ws->is_gone)
        lx_ws_update_pause(ws);
    if (lx_ws_may_read(ws)) {
        ws->is_in_io = 1;
        if (wslay_event_recv(ws->ctx) != 0)
            ws->is_failed = 1;
        ws->is_in_io = 0;
    }
    if (!ws->is_gone) {
        lx_ws_flush(ws);
        int is_done = !wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx) &&
                      evbuffer_get_length(bufferevent_get_output(ws->bev)) == 0;
        if (ws->is_failed || is_done) {
            lx_ws_drop(ws, LX_WS_ABNORMAL);
        } else {
            lx_ws_set_reading(ws);
            lx_ws_arm(ws, lx_now_us());
        }
    }
    ws->busy--;
    lx_ws_settle(ws);
}

static void lx_ws_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    lx_ws_pump(arg);
}

static void lx_ws_write_cb(struct bufferevent *bev, void *arg)
{
    lx_ws *ws = arg;
    (void)bev;
    ws->t_stall = lx_now_us();
    ws->busy++;
    lx_ws_pump(ws);
    if (!ws->is_gone && !ws->is_closing && !ws->is_held && ws->h.on_drain != NULL &&
        lx_ws_queued(ws) == 0)
        ws->h.on_drain(ws, ws->arg);
    ws->busy--;
    lx_ws_settle(ws);
}

static void lx_ws_event_cb(struct bufferevent *bev, short what, void *arg)
{
    lx_ws *ws = arg;
    (void)bev;
    (void)what; /* EOF, an error or a timeout: the connection is over */
    ws->busy++;
    lx_ws_drop(ws, LX_WS_ABNORMAL);
    ws->busy--;
    lx_ws_settle(ws);
}

/* ------------------------------------------------------------------ */
/* Timers                                                              */

static uint64_t lx_ws_ms(long long ms)
{
    return (uint64_t)ms * 1000u;
}

/* The next moment the timer must look at the session; 0 for never. */
static uint64_t lx_ws_due(const lx_ws *ws)
{
    uint64_t due = UINT64_MAX;
    uint64_t ping = lx_ws_ms(ws->lim.ping_interval_ms);

    if (ws->is_close_queued)
        return ws->t_close + lx_ws_ms(LX_WS_CLOSE_WAIT_MS);
    if (ws->lim.idle_timeout_ms > 0 && !ws->is_closing)
        due = ws->t_msg + lx_ws_ms(ws->lim.idle_timeout_ms);
    if (ping > 0 && ws->is_reading && !ws->is_closing) {
        uint64_t t = ws->is_awaiting_pong ? ws->t_ping + ping : ws->t_rx + ping;
        if (t < due)
            due = t;
    }
    if (ping > 0 && ws->ctx != NULL && evbuffer_get_length(bufferevent_get_output(ws->bev)) > 0 &&
        ws->t_stall + 2 * ping < due)
        due = ws->t_stall + 2 * ping;
    return due == UINT64_MAX ? 0 : due;
}

static void lx_ws_arm(lx_ws *ws, uint64_t now)
{
    uint64_t due = ws->is_gone ? 0 : lx_ws_due(ws);

    if (due == 0) {
        if (ws->t_timer != 0)
            event_del(ws->ev);
        ws->t_timer = 0;
        return;
    }
    /* A timer due earlier than needed just looks and re-arms: only move
     * it when the new moment comes first. */
    if (ws->t_timer != 0 && ws->t_timer <= due)
        return;
    uint64_t in = due > now ? due - now : 0;
    struct timeval tv = {(time_t)(in / 1000000u), (suseconds_t)(in % 1000000u)};
    if (in < 1000)
        tv.tv_usec = 1000;
    if (evtimer_add(ws->ev, &tv) == 0)
        ws->t_timer = due;
}

/* The timer, and work deferred to the loop (a resume, bytes buffered at
 * the takeover, an end noticed inside a callback). */
static void lx_ws_tick(evutil_socket_t fd, short what, void *arg)
{
    lx_ws *ws = arg;
    uint64_t now = lx_now_us();
    uint64_t ping = lx_ws_ms(ws->lim.ping_interval_ms);
    (void)fd;
    (void)what;

    ws->t_timer = 0; /* a one-shot timer is spent once it runs */
    ws->busy++;
    if (!ws->is_gone) {
        if (ws->is_close_queued && now >= ws->t_close + lx_ws_ms(LX_WS_CLOSE_WAIT_MS)) {
            lx_ws_drop(ws, LX_WS_ABNORMAL); /* the peer never answered our close */
        } else if (ping > 0 && evbuffer_get_length(bufferevent_get_output(ws->bev)) > 0 &&
                   now >= ws->t_stall + 2 * ping) {
            lx_log(LX_LOG_INFO, "websocket", ws->req_id, "the peer reads nothing: dropping");
            lx_ws_drop(ws, LX_WS_ABNORMAL);
        } else if (ws->lim.idle_timeout_ms > 0 && !ws->is_closing &&
                   now >= ws->t_msg + lx_ws_ms(ws->lim.idle_timeout_ms)) {
            lx_ws_close(ws, LX_WS_GOING_AWAY, "idle timeout");
        } else if (ping > 0 && ws->is_reading && !ws->is_closing) {
            if (ws->is_awaiting_pong && now >= ws->t_ping + ping) {
                lx_log(LX_LOG_INFO, "websocket", ws->req_id, "no answer to a ping: dropping");
                lx_ws_drop(ws, LX_WS_ABNORMAL);
            } else if (!ws->is_awaiting_pong && now >= ws->t_rx + ping) {
                struct wslay_event_msg m = {WSLAY_PING, (const uint8_t *)"", 0};
                if (wslay_event_queue_msg(ws->ctx, &m) == 0) {
                    ws->is_awaiting_pong = 1;
                    ws->t_ping = now;
                }
            }
        }
    }
    if (!ws->is_gone)
        lx_ws_pump(ws);
    ws->busy--;
    lx_ws_settle(ws);
}

/* ------------------------------------------------------------------ */
/* Starting                                                            */

lx_ws *lx_ws_session_new(lx_worker *w, const lx_ws_limits *lim, const char *req_id,
                         const lx_ws_handler *h, void *arg)
{
    lx_ws *ws = calloc(1, sizeof(*ws));
    if (ws == NULL)
        return NULL;
    ws->ev = event_new(w->base, -1, 0, lx_ws_tick, ws);
    if (ws->ev == NULL || wslay_event_context_server_init(&ws->ctx, &lx_ws_callbacks, ws) != 0) {
        if (ws->ev != NULL)
            event_free(ws->ev);
        free(ws);
        return NULL;
    }
    wslay_event_config_set_max_recv_msg_length(ws->ctx, lim->max_message);
    ws->w = w;
    ws->lim = *lim;
    if (h != NULL) {
        /* members the plugin's struct has; later ones stay NULL */
        size_t n = h->struct_size < sizeof(ws->h) ? h->struct_size : sizeof(ws->h);
        memcpy(&ws->h, h, n);
    }
    ws->arg = arg;
    ws->is_closed_cb = ws->h.on_close == NULL;
    ws->end_code = LX_WS_ABNORMAL;
    snprintf(ws->req_id, sizeof(ws->req_id), "%s", req_id ? req_id : "");
    ws->next = w->ws_live;
    if (w->ws_live != NULL)
        w->ws_live->prev = ws;
    w->ws_live = ws;
    w->n_ws++;
    return ws;
}

void lx_ws_session_discard(lx_ws *ws)
{
    wslay_event_context_free(ws->ctx);
    ws->ctx = NULL;
    lx_ws_free(ws);
}

int lx_ws_session_start(lx_ws *ws, struct bufferevent *bev, struct evhttp_connection *evcon)
{
    uint64_t now = lx_now_us();

    ws->bev = bev;
    ws->evcon = evcon;
    ws->t_start = ws->t_rx = ws->t_msg = ws->t_stall = now;
    lx_metrics_ws_open(lx_ws_metrics(ws), ws->w->index, 1);
    bufferevent_setcb(bev, lx_ws_read_cb, lx_ws_write_cb, lx_ws_event_cb, ws);
    bufferevent_setwatermark(bev, EV_WRITE, LX_WS_OUTBUF / 2, 0);
    bufferevent_setwatermark(bev, EV_READ, 0, 0);
    /* Reading first, then the timeouts: enabling re-adds the read event
     * with evhttp's idle timeout, clearing the timeouts then removes it
     * from the pending event. */
    if (bufferevent_enable(bev, EV_READ | EV_WRITE) != 0 ||
        bufferevent_set_timeouts(bev, NULL, NULL) != 0) {
        ws->is_closed_cb = 1; /* the caller hears of it by the status: no on_close */
        ws->busy++;
        lx_ws_drop(ws, LX_WS_ABNORMAL);
        ws->busy--;
        lx_ws_kick(ws); /* freed from the loop */
        return LX_ENOMEM;
    }
    ws->is_reading = 1;
    /* Messages are small and interactive: no Nagle delay on the last
     * segment of each (40 ms with the peer's delayed ACK). */
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd >= 0) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    /* The bytes that came with the request head (a client may send its
     * first frames without waiting for the 101), and the work the plugin
     * queued before returning from its handler: on the next loop pass. */
    lx_ws_kick(ws);
    return LX_OK;
}

/* ------------------------------------------------------------------ */
/* The host API                                                        */

int lx_ws_send(lx_ws *ws, int type, const void *data, size_t len)
{
    if (ws == NULL || (type != LX_WS_TEXT && type != LX_WS_BINARY) || (data == NULL && len > 0))
        return LX_EINVAL;
    if (ws->is_gone)
        return LX_EGONE;
    if (ws->is_closing || ws->is_peer_closed)
        return LX_ESTATE;
    if (type == LX_WS_TEXT && !lx_ws_utf8_ok(data, len))
        return LX_EINVAL;
    if (lx_ws_queued(ws) + len > 4 * ws->lim.max_message + (64u << 10))
        return LX_ETOOBIG;
    struct wslay_event_msg m = {type == LX_WS_TEXT ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME, data,
                                len};
    int rc = wslay_event_queue_msg(ws->ctx, &m);
    if (rc == WSLAY_ERR_NO_MORE_MSG)
        return LX_ESTATE;
    if (rc != 0)
        return LX_ENOMEM;
    ws->n_out++;
    ws->b_out += len;
    ws->t_msg = lx_now_us();
    lx_metrics_ws_message(lx_ws_metrics(ws), ws->w->index, 1, len);
    if (!ws->is_in_io) {
        lx_ws_flush(ws);
        if (ws->is_failed)
            lx_ws_kick(ws);
    }
    return LX_OK;
}

int lx_ws_close(lx_ws *ws, int code, const char *reason)
{
    if (ws == NULL || !lx_ws_code_ok(code) || !lx_ws_reason_ok(reason))
        return LX_EINVAL;
    if (ws->is_gone)
        return LX_EGONE;
    if (ws->is_closing || ws->is_peer_closed)
        return LX_ESTATE;
    if (reason != NULL && reason[0] != '\0') {
        ws->close_reason = strdup(reason);
        if (ws->close_reason == NULL)
            return LX_ENOMEM;
    }
    ws->is_closing = 1;
    ws->close_code = code;
    if (!ws->is_in_io) {
        lx_ws_flush(ws);
        lx_ws_arm(ws, lx_now_us());
        if (ws->is_failed)
            lx_ws_kick(ws);
    }
    return LX_OK;
}

void lx_ws_resume(lx_ws *ws)
{
    if (ws == NULL || !ws->is_held)
        return;
    ws->is_held = 0;
    lx_ws_kick(ws);
}

const char *lx_ws_id(lx_ws *ws)
{
    return ws != NULL ? ws->req_id : "";
}

lx_worker *lx_ws_worker(lx_ws *ws)
{
    return ws != NULL ? ws->w : NULL;
}

/* ------------------------------------------------------------------ */
/* The worker's sessions                                               */

void lx_ws_worker_stopping(lx_worker *w)
{
    for (lx_ws *ws = w->ws_live; ws != NULL; ws = ws->next)
        if (!ws->is_gone && !ws->is_closing && !ws->is_peer_closed)
            lx_ws_close(ws, LX_WS_GOING_AWAY, "server going away");
}

void lx_ws_worker_exit(lx_worker *w)
{
    lx_ws *ws = w->ws_live;
    while (ws != NULL) {
        lx_ws *next = ws->next;
        ws->busy++;
        lx_ws_drop(ws, LX_WS_ABNORMAL);
        ws->busy--;
        /* held sessions stay: the offload pool's completions resume them */
        if (!ws->is_held)
            lx_ws_settle(ws); /* may free ws */
        ws = next;
    }
}

void lx_ws_free_all(lx_worker *w)
{
    while (w->ws_live != NULL) {
        lx_ws *ws = w->ws_live;
        ws->busy++;
        lx_ws_drop(ws, LX_WS_ABNORMAL);
        ws->is_held = 0;
        ws->is_closing = 1; /* no more messages */
        ws->busy--;
        lx_ws_settle(ws);
        if (w->ws_live == ws) /* still referenced by code up the stack: cannot be */
            lx_ws_free(ws);
    }
}
