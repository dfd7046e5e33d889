#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "conn.h"
#include "log.h"
#include "worker.h"

/* A connection closed with input left unread reads and drops for at most
 * this long (nginx's lingering_time; a client that sends nothing more for
 * LX_LINGER_READ_MS is let go sooner), so that the client, still sending,
 * gets the answer rather than a reset. */
#define LX_LINGER_MS 5000
#define LX_LINGER_READ_MS 2000

/* What the client is made to send when its head was refused: evhttp parses
 * this instead, and the core answers it with the refusal. */
static const char lx_synthetic_head[] = "GET / HTTP/1.1\r\n\r\n";

enum lx_conn_state {
    LX_CONN_NEW,    /* made by the bevcb; evhttp not yet seen */
    LX_CONN_HEAD,   /* evhttp waits for a head */
    LX_CONN_BUSY,   /* evhttp has a request (handlers, the reply) */
    LX_CONN_BODY,   /* the core reads the current request's body */
    LX_CONN_TAKEN,  /* taken over after a 101 (WebSockets): no longer HTTP */
    LX_CONN_CLOSED, /* evhttp freed it; to reap */
    LX_CONN_LINGER, /* closed with input unread: reading and dropping */
};

enum lx_conn_timer { LX_TIMER_NONE, LX_TIMER_HEADER, LX_TIMER_BODY, LX_TIMER_LINGER };

struct lx_conn {
    lx_worker *w;
    lx_conn *prev, *next;    /* w->conns */
    lx_conn *next_pending;   /* w->conns_pending */
    struct bufferevent *bev; /* one reference is ours */
    struct evhttp_connection *evcon;
    evutil_socket_t fd;
    struct event *timer;
    struct evbuffer_cb_entry *input_cb;
    enum lx_conn_state state;
    enum lx_conn_timer timer_kind;
    unsigned is_guarded : 1;    /* the core itself is moving input bytes */
    unsigned is_head_ready : 1; /* the head at the front of the input is vetted */
    unsigned is_pending : 1;    /* on w->conns_pending */
    unsigned wants_linger : 1;
    unsigned is_registered : 1; /* in w->conn_by_fd */
    unsigned is_throttled : 1;  /* the read watermark is set (max_unsent) */
    lx_conn_head head;
    /* a partial head, out of evhttp's sight */
    char *hb;
    size_t hb_len, hb_cap;
    lx_head_scan scan;
    /* the close hook */
    void (*on_close)(void *arg);
    void *on_close_arg;
    /* the body being read */
    lx_body_job job;
    lx_chunked chunked;
    uint64_t body_left; /* Content-Length bytes still to come */
    uint64_t body_received;
    uint64_t body_start_us;
    bufferevent_data_cb saved_read, saved_write;
    bufferevent_event_cb saved_event;
    void *saved_arg;
};

static void lx_conn_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);

static const lx_server_conf *lx_conn_conf(const lx_conn *c)
{
    return &c->w->rt->conf->server;
}

/* A checked head is at the front of the input: evhttp reads it next, and
 * the input callback need not watch evhttp take it line by line. */
static void lx_conn_set_head_ready(lx_conn *c)
{
    c->is_head_ready = 1;
    evbuffer_cb_clear_flags(bufferevent_get_input(c->bev), c->input_cb, EVBUFFER_CB_ENABLED);
}

static void lx_conn_clear_head_ready(lx_conn *c)
{
    c->is_head_ready = 0;
    evbuffer_cb_set_flags(bufferevent_get_input(c->bev), c->input_cb, EVBUFFER_CB_ENABLED);
}

/* A connection holding max_unsent bytes it has not processed is read no
 * further until they are: a read watermark, set only then (libevent runs a
 * watermark's callback on every change of the buffer). Checked after each
 * read the input callback sees, and each time a request starts or ends
 * (reads that land while evhttp takes a checked head pass the callback
 * by). */
static void lx_conn_throttle(lx_conn *c, struct evbuffer *in)
{
    const lx_server_conf *sc = lx_conn_conf(c);
    size_t wm = sc->max_unsent > sc->max_header + 1024 ? sc->max_unsent : sc->max_header + 1024;

    if (!c->is_throttled && evbuffer_get_length(in) >= wm) {
        c->is_throttled = 1;
        bufferevent_setwatermark(c->bev, EV_READ, 0, wm);
    }
}

/* ------------------------------------------------------------------ */
/* Timers                                                              */

static void lx_conn_timer_start(lx_conn *c, enum lx_conn_timer kind, long long ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    c->timer_kind = kind;
    evtimer_add(c->timer, &tv);
}

static void lx_conn_timer_stop(lx_conn *c)
{
    c->timer_kind = LX_TIMER_NONE;
    evtimer_del(c->timer);
}

/* ------------------------------------------------------------------ */
/* The worker's lists                                                  */

static void lx_conn_register(lx_conn *c)
{
    lx_worker *w = c->w;
    if (c->is_registered || c->fd < 0)
        return;
    size_t fd = (size_t)c->fd;
    if (fd >= w->n_conn_by_fd) {
        size_t n = w->n_conn_by_fd ? w->n_conn_by_fd : 1024;
        while (n <= fd)
            n *= 2;
        lx_conn **t = realloc(w->conn_by_fd, n * sizeof(*t));
        if (t == NULL)
            return; /* lx_conn_of falls back to the list */
        memset(t + w->n_conn_by_fd, 0, (n - w->n_conn_by_fd) * sizeof(*t));
        w->conn_by_fd = t;
        w->n_conn_by_fd = n;
    }
    w->conn_by_fd[fd] = c;
    c->is_registered = 1;
}

static void lx_conn_pend(lx_conn *c)
{
    if (c->is_pending)
        return;
    c->is_pending = 1;
    c->next_pending = c->w->conns_pending;
    c->w->conns_pending = c;
    event_active(c->w->ev_conns, EV_TIMEOUT, 0);
}

lx_conn *lx_conn_of(lx_worker *w, struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0 && (size_t)fd < w->n_conn_by_fd && w->conn_by_fd[fd] != NULL &&
        w->conn_by_fd[fd]->bev == bev)
        return w->conn_by_fd[fd];
    for (lx_conn *c = w->conns; c != NULL; c = c->next)
        if (c->bev == bev && bev != NULL)
            return c;
    return NULL;
}

/* Frees a connection evhttp is done with: its fd closes with our last
 * reference to the bufferevent (BEV_OPT_CLOSE_ON_FREE). */
static void lx_conn_destroy(lx_conn *c)
{
    lx_worker *w = c->w;

    if (c->is_registered && w->conn_by_fd[c->fd] == c)
        w->conn_by_fd[c->fd] = NULL;
    evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
    bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    bufferevent_decref(c->bev);
    event_free(c->timer);
    free(c->hb);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    w->n_conns--;
    free(c);
    lx_worker_accept_update(w);
}

/* ------------------------------------------------------------------ */
/* Closing                                                             */

static void lx_conn_body_end(lx_conn *c, int status, const char *code, const char *message);
static void lx_conn_body_restore(lx_conn *c);

/* evhttp's close callback: evhttp is freeing the connection (the request
 * on it, if any, right after this returns). */
static void lx_conn_closed(struct evhttp_connection *evcon, void *arg)
{
    lx_conn *c = arg;
    (void)evcon;

    c->evcon = NULL;
    if (c->state == LX_CONN_BODY)
        lx_conn_body_end(c, LX_BODY_CLOSED, NULL, NULL);
    void (*fn)(void *) = c->on_close; /* read after: the request may have removed it */
    c->on_close = NULL;
    if (fn != NULL)
        fn(c->on_close_arg);
    lx_conn_timer_stop(c);
    c->state = LX_CONN_CLOSED;
    lx_conn_pend(c);
}

static void lx_conn_linger_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void lx_conn_linger_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what; /* EOF, error or the read timeout: enough */
    lx_conn_destroy(arg);
}

/* After evhttp freed the connection (FIN sent): read and drop for a while,
 * or let it go now. */
static void lx_conn_reap(lx_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    if (!c->wants_linger || c->w->is_stopping) {
        lx_conn_destroy(c);
        return;
    }
    c->state = LX_CONN_LINGER;
    evbuffer_drain(in, evbuffer_get_length(in));
    bufferevent_setcb(c->bev, lx_conn_linger_read, NULL, lx_conn_linger_event, c);
    struct timeval rd = {LX_LINGER_READ_MS / 1000, (LX_LINGER_READ_MS % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, &rd, NULL);
    bufferevent_disable(c->bev, EV_WRITE);
    bufferevent_enable(c->bev, EV_READ);
    lx_conn_timer_start(c, LX_TIMER_LINGER, LX_LINGER_MS);
}

void lx_conn_detach(lx_conn *c)
{
    c->on_close = NULL;
    if (c->state == LX_CONN_BODY) {
        if (c->timer_kind == LX_TIMER_BODY)
            lx_conn_timer_stop(c);
        lx_conn_body_restore(c);
    }
}

void lx_conn_take_over(lx_conn *c)
{
    evbuffer_cb_clear_flags(bufferevent_get_input(c->bev), c->input_cb, EVBUFFER_CB_ENABLED);
    c->is_head_ready = 0;
    if (c->is_throttled) {
        c->is_throttled = 0;
        bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
    }
    lx_conn_timer_stop(c);
    c->on_close = NULL;
    c->state = LX_CONN_TAKEN;
}

void lx_conn_linger(lx_conn *c)
{
    c->wants_linger = 1;
}

void lx_conn_on_close(lx_conn *c, void (*fn)(void *arg), void *arg)
{
    c->on_close = fn;
    c->on_close_arg = arg;
}

/* ------------------------------------------------------------------ */
/* Adoption                                                            */

/* The bevcb runs before evhttp has made its connection object; once it has
 * (it set its callbacks, whose argument is the evhttp_connection), the core
 * registers for the close. Runs from the worker's pending event, before
 * any byte of the connection is read, or from the first read. */
static void lx_conn_adopt(lx_conn *c)
{
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;

    if (c->state != LX_CONN_NEW)
        return;
    bufferevent_getcb(c->bev, &rd, &wr, &ev, &arg);
    if (ev == NULL || arg == NULL) {
        /* evhttp gave up on the connection before it was ours */
        lx_conn_timer_stop(c);
        c->state = LX_CONN_CLOSED;
        lx_conn_pend(c);
        return;
    }
    c->evcon = arg;
    c->fd = bufferevent_getfd(c->bev);
    lx_conn_register(c);
    evhttp_connection_set_closecb(c->evcon, lx_conn_closed, c);
    c->state = LX_CONN_HEAD;
}

lx_worker *lx_conn_worker(const lx_conn *c)
{
    return c->w;
}

void lx_conn_on_pending(evutil_socket_t fd, short what, void *arg)
{
    lx_worker *w = arg;
    (void)fd;
    (void)what;

    while (w->conns_pending != NULL) {
        lx_conn *c = w->conns_pending;
        w->conns_pending = c->next_pending;
        c->is_pending = 0;
        if (c->state == LX_CONN_NEW)
            lx_conn_adopt(c);
        else if (c->state == LX_CONN_CLOSED)
            lx_conn_reap(c);
    }
}

/* ------------------------------------------------------------------ */
/* Heads                                                               */

static void lx_conn_copy_text(char *dst, size_t cap, const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char ch = (unsigned char)p[i];
        dst[k++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    dst[k] = '\0';
}

/* Replaces whatever the client sent by the synthetic head; the core answers
 * it with head.status and closes. */
static void lx_conn_head_refuse(lx_conn *c, int status, const char *code, const char *message)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    c->head.head.status = status;
    c->head.head.code = code;
    c->head.head.message = message;
    c->hb_len = 0;
    evbuffer_drain(in, evbuffer_get_length(in));
    evbuffer_prepend(in, lx_synthetic_head, sizeof(lx_synthetic_head) - 1);
    lx_conn_set_head_ready(c);
    c->wants_linger = 1;
    lx_conn_timer_stop(c);
}

static void lx_conn_refuse_size(lx_conn *c, int status)
{
    if (status == 414)
        lx_conn_head_refuse(c, 414, "URI_TOO_LONG", "the request line is too long");
    else
        lx_conn_head_refuse(c, 431, "HEADERS_TOO_LARGE", "the request headers are too large");
}

/* p[0..end) is a complete head (st->skip leading empty lines included), at
 * the front of the input buffer or in c->hb: checks it and renames its
 * framing fields in place. Returns 1 when good, 0 when not (h->status,
 * code and message say why). */
static int lx_conn_head_check(lx_conn *c, char *p, size_t end)
{
    lx_head *h = &c->head.head;

    if (lx_head_parse(p, end, h) != LX_HEAD_DONE) {
        /* for the access line of the refusal */
        lx_conn_copy_text(c->head.method, sizeof(c->head.method), p + h->method_off, h->method_len);
        lx_conn_copy_text(c->head.target, sizeof(c->head.target), p + h->target_off, h->target_len);
        return 0;
    }
    if (h->is_absolute) {
        /* what evhttp will make of it must be what the router sees */
        char *t = strndup(p + h->target_off, h->target_len);
        struct evhttp_uri *u = t ? evhttp_uri_parse_with_flags(t, EVHTTP_URI_NONCONFORMANT) : NULL;
        free(t);
        if (u == NULL) {
            h->status = 400;
            h->code = "BAD_REQUEST";
            h->message = "malformed request target";
            return 0;
        }
        evhttp_uri_free(u);
    }
    if (h->has_length)
        memcpy(p + h->cl_name_off, LX_HTTP_CL_ALIAS, sizeof(LX_HTTP_CL_ALIAS) - 1);
    if (h->is_chunked)
        memcpy(p + h->te_name_off, LX_HTTP_TE_ALIAS, sizeof(LX_HTTP_TE_ALIAS) - 1);
    return 1;
}

/* lx_conn_head_check, refusing the head (lx_conn_head_refuse, with the
 * reason the check gave) when it is bad. Returns 1 when good. */
static int lx_conn_head_vet(lx_conn *c, char *p, size_t end)
{
    if (lx_conn_head_check(c, p, end))
        return 1;
    lx_head *h = &c->head.head;
    lx_conn_head_refuse(c, h->status, h->code, h->message);
    return 0;
}

/* The checked head is at the front of the input: evhttp reads it from
 * here, and its header timer stops. */
static void lx_conn_head_pass(lx_conn *c)
{
    lx_conn_set_head_ready(c);
    lx_conn_timer_stop(c);
}

static int lx_conn_hb_reserve(lx_conn *c, size_t need)
{
    if (need <= c->hb_cap)
        return 1;
    size_t cap = c->hb_cap ? c->hb_cap : 512;
    while (cap < need)
        cap *= 2;
    char *p = realloc(c->hb, cap);
    if (p == NULL)
        return 0;
    c->hb = p;
    c->hb_cap = cap;
    return 1;
}

/* The input starts a new head (nothing of it buffered yet). */
static void lx_conn_vet_fresh(lx_conn *c, struct evbuffer *in, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    size_t end = 0;
    int status = 0;
    /* the head is almost always within the first chain: look there first,
     * and copy only when it is not */
    size_t n0 = evbuffer_get_contiguous_space(in);
    if (n0 == 0 || n0 > n)
        n0 = n;
    char *p = (char *)evbuffer_pullup(in, (ev_ssize_t)n0);

    memset(&c->scan, 0, sizeof(c->scan));
    int rc = p ? lx_head_find_end(p, n0, max, &c->scan, &end, &status) : LX_HEAD_PARTIAL;
    if (p != NULL && rc == LX_HEAD_PARTIAL && n0 < n) {
        p = (char *)evbuffer_pullup(in, (ev_ssize_t)n);
        if (p != NULL)
            rc = lx_head_find_end(p, n, max, &c->scan, &end, &status);
    }
    if (p == NULL) {
        lx_conn_head_refuse(c, 503, "SERVER_BUSY", "out of memory");
        return;
    }
    switch (rc) {
    case LX_HEAD_DONE:
        if (!lx_conn_head_vet(c, p, end))
            return;
        evbuffer_drain(in, c->scan.skip);
        lx_conn_head_pass(c);
        return;
    case LX_HEAD_BAD:
        lx_conn_refuse_size(c, status);
        return;
    default:
        if (!lx_conn_hb_reserve(c, n)) {
            lx_conn_head_refuse(c, 503, "SERVER_BUSY", "out of memory");
            return;
        }
        memcpy(c->hb, p, n);
        c->hb_len = n;
        evbuffer_drain(in, n);
        if (c->timer_kind != LX_TIMER_HEADER)
            lx_conn_timer_start(c, LX_TIMER_HEADER, lx_conn_conf(c)->header_timeout_ms);
    }
}

/* More bytes of a head already partly in c->hb. */
static void lx_conn_vet_more(lx_conn *c, struct evbuffer *in, size_t len, size_t max)
{
    size_t room = max - c->hb_len;
    size_t n = len < room ? len : room;
    size_t end = 0;
    int status = 0;

    if (!lx_conn_hb_reserve(c, c->hb_len + n)) {
        lx_conn_head_refuse(c, 503, "SERVER_BUSY", "out of memory");
        return;
    }
    evbuffer_copyout(in, c->hb + c->hb_len, n);
    switch (lx_head_find_end(c->hb, c->hb_len + n, max, &c->scan, &end, &status)) {
    case LX_HEAD_DONE:
        evbuffer_drain(in, end - c->hb_len);
        c->hb_len = 0;
        if (!lx_conn_head_vet(c, c->hb, end))
            return;
        evbuffer_prepend(in, c->hb + c->scan.skip, end - c->scan.skip);
        lx_conn_head_pass(c);
        return;
    case LX_HEAD_BAD:
        lx_conn_refuse_size(c, status);
        return;
    default:
        evbuffer_drain(in, n);
        c->hb_len += n;
    }
}

/* Makes sure the bytes evhttp reads next are a head the core checked: a
 * complete good head stays at the front of the input (framing renamed), a
 * partial one waits in c->hb, a bad one becomes the synthetic head. Only
 * while evhttp waits for a head. */
static void lx_conn_vet(lx_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t len = evbuffer_get_length(in);
    size_t max = lx_conn_conf(c)->max_header;

    if (c->state != LX_CONN_HEAD || c->is_head_ready || c->is_guarded || len == 0)
        return;
    c->is_guarded = 1;
    if (c->hb_len == 0)
        lx_conn_vet_fresh(c, in, len, max);
    else
        lx_conn_vet_more(c, in, len, max);
    c->is_guarded = 0;
}

/* Runs after every change of the input buffer, in particular after each
 * read from the socket and before evhttp's read callback. */
static void lx_conn_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    lx_conn *c = arg;
    (void)buf;

    if (info->n_added == 0 || c->is_guarded)
        return;
    if (c->state == LX_CONN_NEW)
        lx_conn_adopt(c);
    if (c->state == LX_CONN_HEAD && !c->is_head_ready)
        lx_conn_vet(c);
    if (!c->is_throttled && c->state <= LX_CONN_BODY)
        lx_conn_throttle(c, buf);
}

const lx_conn_head *lx_conn_take_head(lx_conn *c)
{
    if (!c->is_head_ready) {
        /* evhttp read a head the core never saw: refuse it */
        memset(&c->head, 0, sizeof(c->head));
        c->head.head.status = 400;
        c->head.head.code = "BAD_REQUEST";
        c->head.head.message = "malformed request";
        c->wants_linger = 1;
    }
    lx_conn_clear_head_ready(c);
    c->state = LX_CONN_BUSY;
    if (c->timer_kind == LX_TIMER_HEADER)
        lx_conn_timer_stop(c);
    if (!c->is_throttled)
        lx_conn_throttle(c, bufferevent_get_input(c->bev));
    return &c->head;
}

void lx_conn_response_done(lx_conn *c)
{
    if (c->state != LX_CONN_BUSY)
        return;
    c->state = LX_CONN_HEAD;
    lx_conn_clear_head_ready(c);
    if (!c->is_throttled)
        lx_conn_throttle(c, bufferevent_get_input(c->bev));
    lx_conn_vet(c);
}

/* ------------------------------------------------------------------ */
/* Bodies                                                              */

enum { LX_PUMP_MORE, LX_PUMP_DONE, LX_PUMP_FAIL };

/* Reserves n more bytes of the worker's body budget for this request. */
static int lx_conn_body_reserve(lx_conn *c, uint64_t n)
{
    lx_worker *w = c->w;
    size_t cap = lx_conn_conf(c)->max_body_memory;
    if (n > cap || w->body_mem > cap - n)
        return 0;
    w->body_mem += (size_t)n;
    *c->job.reserved += (size_t)n;
    return 1;
}

/* Moves what the input holds of the body into job.dst. */
static int lx_conn_body_pump(lx_conn *c, int *status, const char **code, const char **message)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    const lx_head *h = &c->head.head;
    size_t len;

    while ((len = evbuffer_get_length(in)) > 0) {
        if (!h->is_chunked) {
            size_t n = len < c->body_left ? len : (size_t)c->body_left;
            evbuffer_remove_buffer(in, c->job.dst, n);
            c->body_left -= n;
            c->body_received += n;
            if (c->body_left == 0)
                return LX_PUMP_DONE;
            continue;
        }
        if (c->chunked.size > 0) {
            size_t n = len < c->chunked.size ? len : (size_t)c->chunked.size;
            evbuffer_remove_buffer(in, c->job.dst, n);
            lx_chunked_took(&c->chunked, n);
            c->body_received += n;
            continue;
        }
        struct evbuffer_iovec v;
        size_t used = 0;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        int rc = lx_chunked_parse(&c->chunked, v.iov_base, v.iov_len, &used);
        evbuffer_drain(in, used);
        if (rc == LX_CHUNK_BAD) {
            *status = 400;
            *code = "BAD_CHUNK";
            *message = c->chunked.message;
            return LX_PUMP_FAIL;
        }
        if (rc == LX_CHUNK_DONE)
            return LX_PUMP_DONE;
        if (rc == LX_CHUNK_DATA) {
            if (c->chunked.total > c->job.limit) {
                *status = 413;
                *code = "BODY_TOO_LARGE";
                *message = "the request body is larger than allowed";
                return LX_PUMP_FAIL;
            }
            if (!lx_conn_body_reserve(c, c->chunked.size)) {
                *status = 503;
                *code = "SERVER_BUSY";
                *message = "too many request bodies in flight; try again";
                return LX_PUMP_FAIL;
            }
        }
    }
    return LX_PUMP_MORE;
}

/* Gives the bufferevent back to evhttp as it left it at dispatch: its
 * callbacks, reading and writing off. */
static void lx_conn_body_restore(lx_conn *c)
{
    bufferevent_setcb(c->bev, c->saved_read, c->saved_write, c->saved_event, c->saved_arg);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    c->state = LX_CONN_BUSY;
}

static void lx_conn_body_end(lx_conn *c, int status, const char *code, const char *message)
{
    lx_body_job job = c->job;

    if (c->timer_kind == LX_TIMER_BODY)
        lx_conn_timer_stop(c);
    lx_conn_body_restore(c);
    if (status != 0)
        c->wants_linger = 1;
    job.done(job.arg, status, code, message);
}

static void lx_conn_body_read_cb(struct bufferevent *bev, void *arg)
{
    lx_conn *c = arg;
    int status = 0;
    const char *code = NULL, *message = NULL;
    (void)bev;

    switch (lx_conn_body_pump(c, &status, &code, &message)) {
    case LX_PUMP_DONE:
        lx_conn_body_end(c, 0, NULL, NULL);
        break;
    case LX_PUMP_FAIL:
        lx_conn_body_end(c, status, code, message);
        break;
    default:
        break;
    }
}

static void lx_conn_body_event_cb(struct bufferevent *bev, short what, void *arg)
{
    lx_conn *c = arg;
    (void)bev;

    if (what & BEV_EVENT_TIMEOUT)
        lx_conn_body_end(c, 408, "REQUEST_TIMEOUT", "the request body stopped arriving");
    else
        lx_conn_body_end(c, LX_BODY_GONE, NULL, NULL);
}

/* The body deadline: body_timeout, plus a second per min_rate bytes
 * received (Apache's mod_reqtimeout "body=...,MinRate=..."). */
static long long lx_conn_body_ms_left(const lx_conn *c)
{
    long long allowed = c->job.timeout_ms;
    if (c->job.min_rate > 0)
        allowed += (long long)(c->body_received * 1000 / c->job.min_rate);
    long long spent = (long long)((lx_now_us() - c->body_start_us) / 1000);
    return allowed - spent;
}

int lx_conn_read_body(lx_conn *c, const lx_body_job *job, int *status, const char **code,
                      const char **message)
{
    const lx_head *h = &c->head.head;

    if (c->state != LX_CONN_BUSY) {
        *status = 500;
        *code = "INTERNAL";
        *message = "the request body cannot be read now";
        return -1;
    }
    if (!lx_head_has_body(h))
        return 0;
    c->job = *job;
    c->body_received = 0;
    c->body_start_us = lx_now_us();
    if (h->is_chunked) {
        lx_chunked_init(&c->chunked, lx_conn_conf(c)->max_header);
    } else {
        if (h->length > job->limit) {
            *status = 413;
            *code = "BODY_TOO_LARGE";
            *message = "the request body is larger than allowed";
            return -1;
        }
        if (!lx_conn_body_reserve(c, h->length)) {
            *status = 503;
            *code = "SERVER_BUSY";
            *message = "too many request bodies in flight; try again";
            return -1;
        }
        c->body_left = h->length;
    }
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (h->expects_continue && evbuffer_get_length(in) == 0) {
        evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
        bufferevent_enable(c->bev, EV_WRITE);
    }
    bufferevent_getcb(c->bev, &c->saved_read, &c->saved_write, &c->saved_event, &c->saved_arg);
    bufferevent_setcb(c->bev, lx_conn_body_read_cb, NULL, lx_conn_body_event_cb, c);
    c->state = LX_CONN_BODY;
    switch (lx_conn_body_pump(c, status, code, message)) {
    case LX_PUMP_DONE:
        lx_conn_body_restore(c);
        return 0;
    case LX_PUMP_FAIL:
        lx_conn_body_restore(c);
        c->wants_linger = 1;
        return -1;
    default:
        break;
    }
    lx_conn_timer_start(c, LX_TIMER_BODY, lx_conn_body_ms_left(c));
    bufferevent_enable(c->bev, EV_READ);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Deadlines                                                           */

static void lx_conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
    lx_conn *c = arg;
    enum lx_conn_timer kind = c->timer_kind;
    (void)fd;
    (void)what;

    c->timer_kind = LX_TIMER_NONE;
    switch (kind) {
    case LX_TIMER_HEADER:
        if (c->state == LX_CONN_NEW)
            lx_conn_adopt(c);
        if (c->state != LX_CONN_HEAD || c->is_head_ready || c->evcon == NULL)
            return;
        if (c->hb_len == 0 && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
            /* not a byte of a request: nothing to answer */
            evhttp_connection_free(c->evcon);
            return;
        }
        c->is_guarded = 1;
        lx_conn_head_refuse(c, 408, "REQUEST_TIMEOUT", "the request head took too long");
        c->is_guarded = 0;
        /* evhttp reads the synthetic head now */
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
        return;
    case LX_TIMER_BODY: {
        if (c->state != LX_CONN_BODY)
            return;
        long long left = lx_conn_body_ms_left(c);
        if (left > 0)
            lx_conn_timer_start(c, LX_TIMER_BODY, left);
        else
            lx_conn_body_end(c, 408, "REQUEST_TIMEOUT", "the request body took too long");
        return;
    }
    case LX_TIMER_LINGER:
        if (c->state == LX_CONN_LINGER)
            lx_conn_destroy(c);
        return;
    default:
        return;
    }
}

/* ------------------------------------------------------------------ */
/* Making and freeing                                                  */

struct bufferevent *lx_conn_bevcb(struct event_base *base, void *arg)
{
    lx_worker *w = arg;
    const lx_server_conf *sc = &w->rt->conf->server;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    lx_conn *c = bev ? calloc(1, sizeof(*c)) : NULL;

    if (c == NULL || (c->timer = evtimer_new(base, lx_conn_on_timer, c)) == NULL ||
        (c->input_cb = evbuffer_add_cb(bufferevent_get_input(bev), lx_conn_input_cb, c)) == NULL) {
        /* evhttp makes a plain one; the request is refused 503 (lx_conn_of
         * finds nothing) */
        if (c != NULL && c->timer != NULL)
            event_free(c->timer);
        free(c);
        if (bev != NULL)
            bufferevent_free(bev);
        lx_log(LX_LOG_WARN, "core", NULL, "worker %d: out of memory for a connection", w->index);
        return NULL;
    }
    c->w = w;
    c->bev = bev;
    c->fd = -1;
    c->state = LX_CONN_NEW;
    bufferevent_incref(bev);
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->n_conns++;
    /* the first head's deadline runs from the accept, as nginx's
     * client_header_timeout */
    lx_conn_timer_start(c, LX_TIMER_HEADER, sc->header_timeout_ms);
    lx_conn_pend(c);
    lx_worker_accept_update(w);
    return bev;
}

void lx_conn_free_all(lx_worker *w)
{
    w->conns_pending = NULL;
    while (w->conns != NULL) {
        lx_conn *c = w->conns;
        if (c->evcon != NULL)
            evhttp_connection_set_closecb(c->evcon, NULL, NULL);
        lx_conn_destroy(c);
    }
    free(w->conn_by_fd);
    w->conn_by_fd = NULL;
    w->n_conn_by_fd = 0;
}
