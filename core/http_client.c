#include "config.h"

/*
 * The asynchronous HTTP client module (lx_http_client.so): libcurl's
 * multi-socket interface driven by one worker's libevent loop.
 *
 * How the two loops meet:
 * - curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION); each
 *   socket gets one persistent event, remembered with curl_multi_assign.
 * - curl tells us when it next needs a timeout (CURLMOPT_TIMERFUNCTION);
 *   one evtimer stands for it.
 * - When either fires we call curl_multi_socket_action, then read
 *   curl_multi_info_read for finished transfers and run their callbacks.
 *
 * Re-entrancy rules (curl refuses most multi calls from inside its own
 * callbacks, and users call back into us from `done` and `on_data`):
 * - `done` only ever runs from our event callbacks or from destroy, never
 *   from fetch, and never while curl_multi_socket_action is on the stack.
 *   fetch only adds the easy handle; curl then arms a zero timeout, so
 *   even a request that fails at once completes from the loop.
 * - cancel from inside `on_data` (curl is on the stack) only marks the call;
 *   it is removed as soon as curl returns and its `done` never runs.
 * - destroy from inside any of our callbacks is deferred until the
 *   outermost callback returns.
 *
 * Everything here runs on the loop's thread; nothing is locked.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "http_client.h"

#define LX_HTTPC_TIMEOUT_MS 30000L
#define LX_HTTPC_CONNECT_TIMEOUT_MS 10000L
#define LX_HTTPC_MAX_RESPONSE ((size_t)8 << 20)
/* Response header bytes kept per call: a guard against a server that
 * sends headers forever (curl only limits each single header). */
#define LX_HTTPC_MAX_HEADER_BYTES ((size_t)256 << 10)
#define LX_HTTPC_MAX_METHOD 32

typedef struct lx_httpc_sock {
    struct event *ev;
    struct lx_httpc_sock *prev, *next;
} lx_httpc_sock;

typedef struct lx_httpc_hdr {
    char *name; /* one allocation: "name\0value\0" */
    const char *value;
} lx_httpc_hdr;

struct lx_http_call {
    /* Handed to `done`; header() finds the call from it with offsetof. */
    lx_http_response res;

    lx_httpc *c;
    lx_http_call *prev, *next;
    CURL *easy;
    int is_attached;   /* added to the multi handle */
    int is_cancelled;  /* cancelled while curl was on the stack */
    int is_completing; /* inside `done`: cancel is a no-op */

    lx_http_done_fn done;
    void (*on_data)(const char *data, size_t len, void *arg);
    void *arg;

    struct curl_slist *req_headers;
    char *req_body; /* our copy of rq->body */

    char *body;
    size_t body_len;
    size_t body_cap;
    size_t n_received; /* body bytes, buffered or streamed */
    size_t max_response;
    int cb_err;          /* LX_ETOOBIG or LX_ENOMEM, set inside a curl callback */
    const char *too_big; /* with LX_ETOOBIG: "body" or "headers" */
    size_t limit_hit;    /* and the limit it passed */

    lx_httpc_hdr *hdrs;
    size_t n_hdrs;
    size_t hdr_cap;
    size_t hdr_bytes;

    struct timespec started;
    char errbuf[CURL_ERROR_SIZE];
};

struct lx_httpc {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    lx_http_call *calls; /* in flight, including cancelled-not-yet-removed */
    size_t n_calls;      /* in flight, not counting cancelled ones */
    size_t n_cancelled;  /* marked by cancel inside a curl callback */
    lx_httpc_sock *socks;
    int depth;   /* > 0 while one of our event callbacks runs */
    int in_curl; /* > 0 while curl_multi_socket_action runs */
    int is_destroying;
    int is_destroy_deferred;
};

static int lx_httpc_is_global_init;

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static double lx_httpc_ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) * 1000.0 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

static int lx_httpc_is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* An HTTP method is a token (RFC 9110): no spaces, no controls. */
static int lx_httpc_method_ok(const char *m)
{
    size_t n = strlen(m);

    if (n == 0 || n > LX_HTTPC_MAX_METHOD)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!lx_httpc_is_tchar((unsigned char)m[i]))
            return 0;
    return 1;
}

/* Only absolute http:// and https:// URLs that curl itself can parse. */
static int lx_httpc_url_ok(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    int ok = 0;

    if (u == NULL)
        return 0;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK)
        ok = strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0;
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

static void lx_httpc_hdrs_clear(lx_http_call *call)
{
    for (size_t i = 0; i < call->n_hdrs; i++)
        free(call->hdrs[i].name);
    call->n_hdrs = 0;
    call->hdr_bytes = 0;
}

static void lx_httpc_link(lx_httpc *c, lx_http_call *call)
{
    call->prev = NULL;
    call->next = c->calls;
    if (c->calls != NULL)
        c->calls->prev = call;
    c->calls = call;
}

static void lx_httpc_unlink(lx_httpc *c, lx_http_call *call)
{
    if (call->prev != NULL)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
}

/* Frees a call that is already unlinked; removes its easy handle first. */
static void lx_httpc_call_free(lx_http_call *call)
{
    if (call->is_attached)
        curl_multi_remove_handle(call->c->multi, call->easy);
    if (call->easy != NULL)
        curl_easy_cleanup(call->easy);
    curl_slist_free_all(call->req_headers);
    free(call->req_body);
    free(call->body);
    lx_httpc_hdrs_clear(call);
    free(call->hdrs);
    free(call);
}

/* ------------------------------------------------------------------------ */
/* Completion                                                               */

/* Ends a call: unlinks it, detaches it from curl (so `done` may start new
 * calls that reuse the connection), runs `done` once, frees it. */
static void lx_httpc_complete(lx_http_call *call, int err, int status, const char *errmsg)
{
    lx_httpc *c = call->c;

    lx_httpc_unlink(c, call);
    c->n_calls--;
    if (call->is_attached) {
        curl_multi_remove_handle(c->multi, call->easy);
        call->is_attached = 0;
    }

    call->res.err = err;
    call->res.status = err == LX_OK ? status : 0;
    call->res.errmsg = err == LX_OK ? "" : errmsg;
    if (err == LX_OK && call->body != NULL) {
        call->body[call->body_len] = '\0';
        call->res.body = call->body;
        call->res.body_len = call->body_len;
    } else {
        call->res.body = "";
        call->res.body_len = 0;
    }
    call->res.total_ms = lx_httpc_ms_since(&call->started);

    call->is_completing = 1;
    call->done(&call->res, call->arg);
    lx_httpc_call_free(call);
}

/* Maps curl's result to our codes. The message comes from curl's error
 * buffer, which names the host and the failure, never request headers. */
static void lx_httpc_complete_curl(lx_http_call *call, CURLcode code)
{
    long status = 0;
    size_t n;

    if (call->cb_err == LX_ETOOBIG) {
        snprintf(call->errbuf, sizeof(call->errbuf), "response %s over %zu bytes", call->too_big,
                 call->limit_hit);
        lx_httpc_complete(call, LX_ETOOBIG, 0, call->errbuf);
        return;
    }
    if (call->cb_err == LX_ENOMEM) {
        lx_httpc_complete(call, LX_EIO, 0, "out of memory");
        return;
    }
    if (code == CURLE_OK) {
        curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
        lx_httpc_complete(call, LX_OK, (int)status, "");
        return;
    }
    if (call->errbuf[0] == '\0')
        snprintf(call->errbuf, sizeof(call->errbuf), "%s", curl_easy_strerror(code));
    n = strlen(call->errbuf);
    while (n > 0 && (call->errbuf[n - 1] == '\n' || call->errbuf[n - 1] == '\r'))
        call->errbuf[--n] = '\0';
    lx_httpc_complete(call, code == CURLE_OPERATION_TIMEDOUT ? LX_ETIMEDOUT : LX_EIO, 0,
                      call->errbuf);
}

/* Removes the calls cancel() could only mark while curl was running. */
static void lx_httpc_reap_cancelled(lx_httpc *c)
{
    lx_http_call *call = c->calls;

    while (c->n_cancelled > 0 && call != NULL) {
        lx_http_call *next = call->next;
        if (call->is_cancelled) {
            lx_httpc_unlink(c, call);
            c->n_cancelled--;
            lx_httpc_call_free(call);
        }
        call = next;
    }
}

/* One message at a time: a `done` may cancel another finished call, and
 * curl_multi_remove_handle drops that call's message from the queue. */
static void lx_httpc_check_done(lx_httpc *c)
{
    CURLMsg *msg;
    int n_left;

    while ((msg = curl_multi_info_read(c->multi, &n_left)) != NULL) {
        char *priv = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        if (priv == NULL)
            continue;
        lx_httpc_complete_curl((lx_http_call *)(void *)priv, msg->data.result);
    }
}

static void lx_httpc_destroy_now(lx_httpc *c);

static void lx_httpc_drive(lx_httpc *c, curl_socket_t fd, int action)
{
    int n_running = 0;

    c->depth++;
    c->in_curl++;
    curl_multi_socket_action(c->multi, fd, action, &n_running);
    c->in_curl--;
    lx_httpc_reap_cancelled(c);
    lx_httpc_check_done(c);
    if (--c->depth == 0 && c->is_destroy_deferred)
        lx_httpc_destroy_now(c);
}

/* ------------------------------------------------------------------------ */
/* libevent side                                                            */

static void lx_httpc_on_sock(evutil_socket_t fd, short what, void *arg)
{
    int action = 0;

    if (what & EV_READ)
        action |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        action |= CURL_CSELECT_OUT;
    lx_httpc_drive(arg, (curl_socket_t)fd, action);
}

static void lx_httpc_on_timer(evutil_socket_t fd, short what, void *arg)
{
    lx_httpc_drive(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void lx_httpc_sock_free(lx_httpc *c, lx_httpc_sock *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    event_free(s->ev);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* curl side                                                                */

/* CURLMOPT_SOCKETFUNCTION: one persistent event per socket, re-armed with
 * the directions curl now wants. */
static int lx_httpc_curl_sock(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    lx_httpc *c = userp;
    lx_httpc_sock *s = socketp;
    short events = EV_PERSIST;

    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            curl_multi_assign(c->multi, fd, NULL);
            lx_httpc_sock_free(c, s);
        }
        return 0;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            return -1;
        s->ev = event_new(c->base, fd, 0, lx_httpc_on_sock, c);
        if (s->ev == NULL) {
            free(s);
            return -1;
        }
        s->next = c->socks;
        if (c->socks != NULL)
            c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    if (what & CURL_POLL_IN)
        events |= EV_READ;
    if (what & CURL_POLL_OUT)
        events |= EV_WRITE;
    event_del(s->ev);
    if (event_assign(s->ev, c->base, fd, events, lx_httpc_on_sock, c) != 0 ||
        event_add(s->ev, NULL) != 0)
        return -1;
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl wants socket_action(TIMEOUT) after
 * timeout_ms, or no timer at all (-1). A zero timeout also goes through the
 * loop: curl forbids calling it back from here. */
static int lx_httpc_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    lx_httpc *c = userp;
    struct timeval tv;

    if (timeout_ms < 0) {
        evtimer_del(c->timer);
        return 0;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return evtimer_add(c->timer, &tv) == 0 ? 0 : -1;
}

static size_t lx_httpc_curl_write(char *data, size_t size, size_t nmemb, void *userp)
{
    lx_http_call *call = userp;
    size_t n = size * nmemb;

    if (call->is_cancelled)
        return 0;
    if (n > call->max_response - call->n_received) {
        call->cb_err = LX_ETOOBIG;
        call->too_big = "body";
        call->limit_hit = call->max_response;
        return 0;
    }
    call->n_received += n;

    if (call->on_data != NULL) {
        call->on_data(data, n, call->arg);
        return call->is_cancelled ? 0 : n;
    }

    if (call->body_len + n + 1 > call->body_cap) {
        size_t cap = call->body_cap ? call->body_cap : 16384;
        char *p;
        while (cap < call->body_len + n + 1)
            cap *= 2;
        if (cap > call->max_response + 1)
            cap = call->max_response + 1;
        p = realloc(call->body, cap);
        if (p == NULL) {
            call->cb_err = LX_ENOMEM;
            return 0;
        }
        call->body = p;
        call->body_cap = cap;
    }
    memcpy(call->body + call->body_len, data, n);
    call->body_len += n;
    return n;
}

static int lx_httpc_is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* CURLOPT_HEADERFUNCTION: one line at a time. A status line starts a new
 * response (after 100 Continue, or a proxy's CONNECT answer), so the
 * headers kept so far are dropped. */
static size_t lx_httpc_curl_header(char *line, size_t size, size_t nitems, void *userp)
{
    lx_http_call *call = userp;
    size_t n = size * nitems;
    const char *colon, *name_end, *val, *val_end;
    size_t name_len, val_len;
    char *entry;

    if (call->is_cancelled)
        return 0;
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        lx_httpc_hdrs_clear(call);
        return n;
    }
    call->hdr_bytes += n;
    if (call->hdr_bytes > LX_HTTPC_MAX_HEADER_BYTES) {
        call->cb_err = LX_ETOOBIG;
        call->too_big = "headers";
        call->limit_hit = LX_HTTPC_MAX_HEADER_BYTES;
        return 0;
    }
    colon = memchr(line, ':', n);
    if (colon == NULL || colon == line)
        return n; /* blank end-of-headers line, or junk */

    name_end = colon;
    while (name_end > line && lx_httpc_is_space(name_end[-1]))
        name_end--;
    val = colon + 1;
    val_end = line + n;
    while (val < val_end && lx_httpc_is_space(*val))
        val++;
    while (val_end > val && lx_httpc_is_space(val_end[-1]))
        val_end--;
    name_len = (size_t)(name_end - line);
    val_len = (size_t)(val_end - val);
    if (name_len == 0)
        return n;

    if (call->n_hdrs == call->hdr_cap) {
        size_t cap = call->hdr_cap ? call->hdr_cap * 2 : 16;
        lx_httpc_hdr *h = realloc(call->hdrs, cap * sizeof(*h));
        if (h == NULL) {
            call->cb_err = LX_ENOMEM;
            return 0;
        }
        call->hdrs = h;
        call->hdr_cap = cap;
    }
    entry = malloc(name_len + val_len + 2);
    if (entry == NULL) {
        call->cb_err = LX_ENOMEM;
        return 0;
    }
    memcpy(entry, line, name_len);
    entry[name_len] = '\0';
    memcpy(entry + name_len + 1, val, val_len);
    entry[name_len + 1 + val_len] = '\0';
    call->hdrs[call->n_hdrs].name = entry;
    call->hdrs[call->n_hdrs].value = entry + name_len + 1;
    call->n_hdrs++;
    return n;
}

/* ------------------------------------------------------------------------ */
/* The module table                                                         */

static int lx_httpc_global_init(char *err, size_t errlen)
{
    CURLcode rc;

    if (lx_httpc_is_global_init)
        return LX_OK;
    rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init: %s", curl_easy_strerror(rc));
        return LX_ERROR;
    }
    lx_httpc_is_global_init = 1;
    return LX_OK;
}

static lx_httpc *lx_httpc_create(struct event_base *base, char *err, size_t errlen)
{
    lx_httpc *c;

    if (base == NULL) {
        snprintf(err, errlen, "http client: no event base");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto nomem;
    c->base = base;
    c->timer = evtimer_new(base, lx_httpc_on_timer, c);
    if (c->timer == NULL)
        goto nomem;
    c->multi = curl_multi_init();
    if (c->multi == NULL)
        goto nomem;
    if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, lx_httpc_curl_sock) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, lx_httpc_curl_timer) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK) {
        snprintf(err, errlen, "http client: curl_multi_setopt failed");
        goto fail;
    }
    return c;

nomem:
    snprintf(err, errlen, "http client: out of memory");
fail:
    if (c != NULL) {
        if (c->multi != NULL)
            curl_multi_cleanup(c->multi);
        if (c->timer != NULL)
            event_free(c->timer);
        free(c);
    }
    return NULL;
}

/* Sets the easy handle up from a validated request; a curl error code. */
static CURLcode lx_httpc_setup(lx_http_call *call, const lx_http_request *rq, const char *method)
{
    CURL *e = call->easy;
    long timeout_ms = rq->timeout_ms ? rq->timeout_ms : LX_HTTPC_TIMEOUT_MS;
    long connect_ms = rq->connect_timeout_ms ? rq->connect_timeout_ms : LX_HTTPC_CONNECT_TIMEOUT_MS;
    int is_head = strcmp(method, "HEAD") == 0;
    int is_get = strcmp(method, "GET") == 0;
    int is_post = strcmp(method, "POST") == 0;
    CURLcode rc = CURLE_OK;

#define LX_SETOPT(opt, val)                                                                        \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)

    LX_SETOPT(CURLOPT_PRIVATE, (void *)call);
    LX_SETOPT(CURLOPT_ERRORBUFFER, call->errbuf);
    LX_SETOPT(CURLOPT_URL, rq->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    LX_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    LX_SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    LX_SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    LX_SETOPT(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    LX_SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    LX_SETOPT(CURLOPT_NOSIGNAL, 1L);
    LX_SETOPT(CURLOPT_ACCEPT_ENCODING, "");
    LX_SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms);
    LX_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    LX_SETOPT(CURLOPT_WRITEFUNCTION, lx_httpc_curl_write);
    LX_SETOPT(CURLOPT_WRITEDATA, (void *)call);
    LX_SETOPT(CURLOPT_HEADERFUNCTION, lx_httpc_curl_header);
    LX_SETOPT(CURLOPT_HEADERDATA, (void *)call);
    if (call->req_headers != NULL)
        LX_SETOPT(CURLOPT_HTTPHEADER, call->req_headers);

    if (is_head) {
        LX_SETOPT(CURLOPT_NOBODY, 1L);
    } else {
        /* A body goes with any method that has one; POST, PUT and PATCH
         * always send one (Content-Length: 0 when empty). */
        int has_body = call->req_body != NULL;
        if (!is_get && !is_post)
            LX_SETOPT(CURLOPT_CUSTOMREQUEST, method);
        else if (is_get && has_body)
            LX_SETOPT(CURLOPT_CUSTOMREQUEST, method);
        if (has_body || is_post || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
            LX_SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
            LX_SETOPT(CURLOPT_POSTFIELDS, has_body ? call->req_body : "");
        }
    }
#undef LX_SETOPT
    return rc;
}

static int lx_httpc_fetch(lx_httpc *c, const lx_http_request *rq_in, lx_http_done_fn done,
                          void *arg, lx_http_call **call_out)
{
    lx_http_request rq;
    lx_http_call *call;
    const char *method;
    size_t size;
    int rc = LX_ENOMEM;

    if (call_out != NULL)
        *call_out = NULL;
    if (c == NULL || rq_in == NULL || done == NULL)
        return LX_EINVAL;
    /* curl refuses to add handles from inside its callbacks (on_data). */
    if (c->is_destroying || c->is_destroy_deferred || c->in_curl)
        return LX_ESTATE;

    /* An older caller's smaller struct: the members it lacks are zero. */
    size = rq_in->struct_size;
    if (size < offsetof(lx_http_request, url) + sizeof(rq.url))
        return LX_EINVAL;
    memset(&rq, 0, sizeof(rq));
    memcpy(&rq, rq_in, size < sizeof(rq) ? size : sizeof(rq));

    method = rq.method != NULL ? rq.method : "GET";
    if (rq.url == NULL || !lx_httpc_url_ok(rq.url) || !lx_httpc_method_ok(method) ||
        (rq.body_len > 0 && rq.body == NULL) || rq.timeout_ms < 0 || rq.connect_timeout_ms < 0)
        return LX_EINVAL;
    if (rq.headers != NULL)
        for (size_t i = 0; rq.headers[i] != NULL; i++)
            if (rq.headers[i][0] == '\0' || strpbrk(rq.headers[i], "\r\n") != NULL)
                return LX_EINVAL;

    call = calloc(1, sizeof(*call));
    if (call == NULL)
        return LX_ENOMEM;
    call->c = c;
    call->done = done;
    call->on_data = rq.on_data;
    call->arg = arg;
    call->max_response = rq.max_response ? rq.max_response : LX_HTTPC_MAX_RESPONSE;
    clock_gettime(CLOCK_MONOTONIC, &call->started);

    if (rq.headers != NULL) {
        for (size_t i = 0; rq.headers[i] != NULL; i++) {
            struct curl_slist *l = curl_slist_append(call->req_headers, rq.headers[i]);
            if (l == NULL)
                goto fail;
            call->req_headers = l;
        }
    }
    if (rq.body_len > 0) {
        call->req_body = malloc(rq.body_len);
        if (call->req_body == NULL)
            goto fail;
        memcpy(call->req_body, rq.body, rq.body_len);
    }
    call->easy = curl_easy_init();
    if (call->easy == NULL)
        goto fail;
    if (lx_httpc_setup(call, &rq, method) != CURLE_OK) {
        rc = LX_ERROR;
        goto fail;
    }
    /* Adding arms curl's timer (a zero timeout): the transfer starts, and
     * can only end, from the loop. */
    if (curl_multi_add_handle(c->multi, call->easy) != CURLM_OK) {
        rc = LX_ERROR;
        goto fail;
    }
    call->is_attached = 1;
    lx_httpc_link(c, call);
    c->n_calls++;
    if (call_out != NULL)
        *call_out = call;
    return LX_OK;

fail:
    lx_httpc_call_free(call);
    return rc;
}

static void lx_httpc_cancel(lx_http_call *call)
{
    lx_httpc *c;

    if (call == NULL || call->is_completing || call->is_cancelled)
        return;
    c = call->c;
    c->n_calls--;
    if (c->in_curl) {
        /* Inside a curl callback curl_multi_remove_handle is refused:
         * mark it; lx_httpc_drive removes it once curl returns. */
        call->is_cancelled = 1;
        c->n_cancelled++;
        return;
    }
    lx_httpc_unlink(c, call);
    lx_httpc_call_free(call);
}

static const char *lx_httpc_header(const lx_http_response *res, const char *name)
{
    const lx_http_call *call;

    if (res == NULL || name == NULL)
        return NULL;
    call = (const lx_http_call *)(const void *)((const char *)res - offsetof(lx_http_call, res));
    for (size_t i = 0; i < call->n_hdrs; i++)
        if (strcasecmp(call->hdrs[i].name, name) == 0)
            return call->hdrs[i].value;
    return NULL;
}

static size_t lx_httpc_in_flight(const lx_httpc *c)
{
    return c != NULL ? c->n_calls : 0;
}

static void lx_httpc_destroy_now(lx_httpc *c)
{
    lx_httpc_sock *s;

    c->is_destroying = 1;
    c->is_destroy_deferred = 0;
    /* Each `done` may cancel others: always restart from the head. */
    while (c->calls != NULL) {
        lx_http_call *call = c->calls;
        if (call->is_cancelled) {
            lx_httpc_unlink(c, call);
            lx_httpc_call_free(call);
            continue;
        }
        lx_httpc_complete(call, LX_ECANCELED, 0, "cancelled: client shutting down");
    }
    curl_multi_cleanup(c->multi);
    /* Sockets of cached connections curl closed without telling us. */
    while ((s = c->socks) != NULL)
        lx_httpc_sock_free(c, s);
    event_free(c->timer);
    free(c);
}

static void lx_httpc_destroy(lx_httpc *c)
{
    if (c == NULL || c->is_destroying)
        return;
    if (c->depth > 0) {
        c->is_destroy_deferred = 1;
        return;
    }
    lx_httpc_destroy_now(c);
}

static const lx_httpc_module lx_httpc_module_table = {
    .version = LX_HTTPC_MODULE_VERSION,
    .global_init = lx_httpc_global_init,
    .create = lx_httpc_create,
    .fetch = lx_httpc_fetch,
    .cancel = lx_httpc_cancel,
    .header = lx_httpc_header,
    .in_flight = lx_httpc_in_flight,
    .destroy = lx_httpc_destroy,
};

/* The module's one exported symbol (LX_HTTPC_MODULE_SYMBOL): the table,
 * constant for the life of the process. */
LX_EXPORT const lx_httpc_module *lx_httpc_module_get(void);

const lx_httpc_module *lx_httpc_module_get(void)
{
    return &lx_httpc_module_table;
}
