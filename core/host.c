#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conf.h"
#include "host.h"
#include "log.h"
#include "request.h"
#include "websocket.h"
#include "worker.h"
#include "ws_session.h"

/* ------------------------------------------------------------------ */
/* Logging and configuration                                           */

static void lx_host_log(int level, const char *src, lx_req *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lx_logv(level, src, req ? lx_req_id(req) : NULL, fmt, ap);
    va_end(ap);
}

static const char *lx_host_data_dir(void)
{
    return lx_current_runtime ? lx_current_runtime->conf->server.data_dir : ".";
}

/* ------------------------------------------------------------------ */
/* Outbound HTTP                                                       */

static int lx_host_http_fetch(lx_worker *w, const lx_http_request *rq, lx_http_done_fn done,
                              void *arg, lx_http_call **call_out)
{
    const lx_httpc_module *mod;
    char err[256];

    if (w == NULL || rq == NULL || done == NULL)
        return LX_EINVAL;
    int rc = lx_worker_http_client(w, &mod, err, sizeof(err));
    if (rc != LX_OK) {
        lx_log(LX_LOG_ERROR, "core", NULL, "%s", err);
        return rc;
    }
    return mod->fetch(w->httpc, rq, done, arg, call_out);
}

static void lx_host_http_cancel(lx_http_call *call)
{
    const lx_httpc_module *mod = lx_httpc_module_loaded();
    if (call != NULL && mod != NULL)
        mod->cancel(call);
}

static const char *lx_host_http_header(const lx_http_response *res, const char *name)
{
    const lx_httpc_module *mod = lx_httpc_module_loaded();
    return (mod != NULL && res != NULL) ? mod->header(res, name) : NULL;
}

/* ------------------------------------------------------------------ */
/* Offload and timers                                                  */

static int lx_host_offload(lx_worker *w, void (*work)(void *), void (*done)(void *, int), void *arg)
{
    if (w == NULL || work == NULL || done == NULL)
        return LX_EINVAL;
    return lx_offload_submit(w->offload, work, done, arg);
}

struct lx_timer {
    struct event *ev;
    void (*fn)(void *arg);
    void *arg;
    int is_repeat;
    int is_running;
    int is_stopped;
};

static void lx_timer_fire(evutil_socket_t fd, short what, void *p)
{
    lx_timer *t = p;
    (void)fd;
    (void)what;
    t->is_running = 1;
    t->fn(t->arg);
    t->is_running = 0;
    if (t->is_stopped || !t->is_repeat) {
        event_free(t->ev);
        free(t);
    }
}

static lx_timer *lx_host_timer_start(lx_worker *w, uint64_t ms, int repeat, void (*fn)(void *),
                                     void *arg)
{
    if (w == NULL || fn == NULL)
        return NULL;
    lx_timer *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->ev = event_new(w->base, -1, repeat ? EV_PERSIST : 0, lx_timer_fire, t);
    if (t->ev == NULL) {
        free(t);
        return NULL;
    }
    t->fn = fn;
    t->arg = arg;
    t->is_repeat = repeat;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    event_add(t->ev, &tv);
    return t;
}

static void lx_host_timer_stop(lx_timer *t)
{
    if (t == NULL)
        return;
    if (t->is_running) { /* freed when its callback returns */
        t->is_stopped = 1;
        event_del(t->ev);
        return;
    }
    event_free(t->ev);
    free(t);
}

/* ------------------------------------------------------------------ */
/* Descriptor watches (ABI 1.4)                                        */

struct lx_watch {
    struct event_base *base;
    struct event *ev;
    int fd;
    unsigned events;
    void (*fn)(int fd, unsigned ready, void *arg);
    void *arg;
    int is_running;
    int is_stopped;
};

static short lx_watch_ev_flags(unsigned events)
{
    return (short)(EV_PERSIST | ((events & LX_WATCH_READ) ? EV_READ : 0) |
                   ((events & LX_WATCH_WRITE) ? EV_WRITE : 0));
}

static void lx_watch_fire(evutil_socket_t fd, short what, void *p)
{
    lx_watch *wt = p;
    unsigned ready =
        ((what & EV_READ) ? LX_WATCH_READ : 0) | ((what & EV_WRITE) ? LX_WATCH_WRITE : 0);

    wt->is_running = 1;
    wt->fn((int)fd, ready, wt->arg);
    wt->is_running = 0;
    if (wt->is_stopped) {
        event_free(wt->ev);
        free(wt);
    }
}

/* (Re)arms the event for wt->events; a paused watch has no event added. */
static int lx_watch_arm(lx_watch *wt)
{
    if (wt->ev != NULL) {
        event_del(wt->ev);
        event_assign(wt->ev, wt->base, wt->fd, lx_watch_ev_flags(wt->events), lx_watch_fire, wt);
    } else {
        wt->ev = event_new(wt->base, wt->fd, lx_watch_ev_flags(wt->events), lx_watch_fire, wt);
        if (wt->ev == NULL)
            return LX_ENOMEM;
    }
    if ((wt->events & (LX_WATCH_READ | LX_WATCH_WRITE)) != 0 && event_add(wt->ev, NULL) != 0)
        return LX_ERROR;
    return LX_OK;
}

static lx_watch *lx_host_watch_start(lx_worker *w, int fd, unsigned events,
                                     void (*fn)(int fd, unsigned ready, void *arg), void *arg)
{
    lx_watch *wt;

    if (w == NULL || fd < 0 || fn == NULL)
        return NULL;
    wt = calloc(1, sizeof(*wt));
    if (wt == NULL)
        return NULL;
    wt->base = w->base;
    wt->fd = fd;
    wt->events = events & (LX_WATCH_READ | LX_WATCH_WRITE);
    wt->fn = fn;
    wt->arg = arg;
    if (lx_watch_arm(wt) != LX_OK) {
        if (wt->ev != NULL)
            event_free(wt->ev);
        free(wt);
        return NULL;
    }
    return wt;
}

static int lx_host_watch_set(lx_watch *wt, unsigned events)
{
    if (wt == NULL || wt->is_stopped)
        return LX_EINVAL;
    events &= LX_WATCH_READ | LX_WATCH_WRITE;
    if (events == wt->events)
        return LX_OK;
    wt->events = events;
    return lx_watch_arm(wt);
}

static void lx_host_watch_stop(lx_watch *wt)
{
    if (wt == NULL || wt->is_stopped)
        return;
    if (wt->is_running) { /* freed when its callback returns */
        wt->is_stopped = 1;
        event_del(wt->ev);
        return;
    }
    event_free(wt->ev);
    free(wt);
}

/* ------------------------------------------------------------------ */
/* Workers, health, metrics                                            */

static int lx_host_worker_index(lx_worker *w)
{
    return w ? w->index : -1;
}

static int lx_host_worker_stopping(lx_worker *w)
{
    return w ? w->is_stopping : 1;
}

typedef struct lx_health_check {
    struct lx_health_check *next;
    lx_worker *w;
    struct event *ev_timeout;
    void (*done)(const lx_health_report *r, void *arg);
    void *arg;
    size_t n_items;
    size_t n_waiting;   /* hooks that have not reported yet */
    int is_done;        /* done() has run */
    lx_health_item *items;
    char **details;     /* owned copies */
    struct lx_health_token {
        struct lx_health_check *check;
        size_t i;
    } *tokens;
} lx_health_check;

static void lx_health_unlink_free(lx_health_check *c)
{
    lx_health_check **pp = &c->w->checks;
    while (*pp != NULL && *pp != c)
        pp = &(*pp)->next;
    if (*pp == c)
        *pp = c->next;
    if (c->ev_timeout != NULL)
        event_free(c->ev_timeout);
    for (size_t i = 0; i < c->n_items; i++)
        free(c->details[i]);
    free(c->details);
    free(c->items);
    free(c->tokens);
    free(c);
}

static void lx_health_finish(lx_health_check *c)
{
    if (c->is_done)
        return;
    c->is_done = 1;
    lx_health_report r = {1, c->n_items, c->items};
    for (size_t i = 0; i < c->n_items; i++)
        if (!c->items[i].is_ok)
            r.all_ok = 0;
    c->done(&r, c->arg);
    if (c->ev_timeout != NULL) {
        event_free(c->ev_timeout);
        c->ev_timeout = NULL;
    }
    if (c->n_waiting == 0)
        lx_health_unlink_free(c);
}

static void lx_health_reported(void *token, int is_ok, const char *detail)
{
    struct lx_health_token *t = token;
    lx_health_check *c = t->check;

    if (c->items[t->i].detail == NULL) { /* the first report counts */
        free(c->details[t->i]);
        c->details[t->i] = strdup(detail ? detail : "");
        c->items[t->i].detail = c->details[t->i] ? c->details[t->i] : "";
        if (!c->is_done)
            c->items[t->i].is_ok = is_ok;
        c->n_waiting--;
    }
    if (c->n_waiting == 0) {
        if (c->is_done)
            lx_health_unlink_free(c);
        else
            lx_health_finish(c);
    }
}

static void lx_health_timeout(evutil_socket_t fd, short what, void *arg)
{
    lx_health_check *c = arg;
    (void)fd;
    (void)what;
    for (size_t i = 0; i < c->n_items; i++)
        if (c->items[i].detail == NULL) {
            c->items[i].is_ok = 0;
            /* keep detail NULL so a late report is recognised and counted */
        }
    /* report with a visible reason for the silent ones */
    lx_health_report r = {0, c->n_items, c->items};
    lx_health_item *view = calloc(c->n_items ? c->n_items : 1, sizeof(*view));
    if (view != NULL) {
        for (size_t i = 0; i < c->n_items; i++) {
            view[i] = c->items[i];
            if (view[i].detail == NULL)
                view[i].detail = "no answer in time";
        }
        r.items = view;
    }
    c->is_done = 1;
    event_free(c->ev_timeout);
    c->ev_timeout = NULL;
    c->done(&r, c->arg);
    free(view);
    if (c->n_waiting == 0)
        lx_health_unlink_free(c);
}

static int lx_host_health_check(lx_worker *w, long timeout_ms,
                                void (*done)(const lx_health_report *r, void *arg), void *arg)
{
    lx_plugins *ps = w->rt->plugins;
    lx_health_check *c = calloc(1, sizeof(*c));

    if (c == NULL || done == NULL) {
        free(c);
        return done == NULL ? LX_EINVAL : LX_ENOMEM;
    }
    c->w = w;
    c->done = done;
    c->arg = arg;
    c->n_items = ps->n;
    c->items = calloc(ps->n ? ps->n : 1, sizeof(*c->items));
    c->details = calloc(ps->n ? ps->n : 1, sizeof(*c->details));
    c->tokens = calloc(ps->n ? ps->n : 1, sizeof(*c->tokens));
    c->ev_timeout = evtimer_new(w->base, lx_health_timeout, c);
    if (c->items == NULL || c->details == NULL || c->tokens == NULL || c->ev_timeout == NULL) {
        if (c->ev_timeout)
            event_free(c->ev_timeout);
        free(c->items);
        free(c->details);
        free(c->tokens);
        free(c);
        return LX_ENOMEM;
    }
    c->next = w->checks;
    w->checks = c;
    for (size_t k = 0; k < ps->n; k++) {
        lx_loaded *it = &ps->items[ps->order[k]];
        c->items[k].plugin = it->desc->name;
        c->items[k].is_ok = 1;
        c->tokens[k].check = c;
        c->tokens[k].i = k;
        if (it->desc->health == NULL)
            c->items[k].detail = "running";
        else
            c->n_waiting++;
    }
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)((timeout_ms % 1000) * 1000)};
    evtimer_add(c->ev_timeout, &tv);
    if (c->n_waiting == 0) {
        lx_health_finish(c);
        return LX_OK;
    }
    /* Ask every hook; a hook may report at once. The extra count keeps c
     * alive until the loop is over. */
    c->n_waiting++;
    for (size_t k = 0; k < ps->n; k++) {
        lx_loaded *it = &ps->items[ps->order[k]];
        if (it->desc->health != NULL)
            it->desc->health(it->state, w, lx_health_reported, &c->tokens[k]);
    }
    if (--c->n_waiting == 0) {
        if (c->is_done)
            lx_health_unlink_free(c);
        else
            lx_health_finish(c);
    }
    return LX_OK;
}

void lx_host_worker_cleanup(lx_worker *w)
{
    while (w->checks != NULL) {
        lx_health_check *c = w->checks;
        c->n_waiting = 0;
        c->is_done = 1;
        lx_health_unlink_free(c);
    }
}

static int lx_host_metrics_render(char **out, size_t *len)
{
    if (out == NULL || len == NULL)
        return LX_EINVAL;
    return lx_metrics_render(lx_current_runtime ? lx_current_runtime->metrics : NULL, out, len);
}

static void *lx_host_alloc(size_t size)
{
    return malloc(size);
}

static void lx_host_free(void *p)
{
    free(p);
}

/* ------------------------------------------------------------------ */
/* The table                                                           */

static const lx_host lx_host_table = {
    .abi_major = LX_ABI_MAJOR,
    .abi_minor = LX_ABI_MINOR,
    .struct_size = sizeof(lx_host),
    .log = lx_host_log,
    .log_enabled = lx_log_enabled,
    .cfg_string = lx_cfg_string,
    .cfg_int = lx_cfg_int,
    .cfg_bool = lx_cfg_bool,
    .cfg_size = lx_cfg_size,
    .cfg_ms = lx_cfg_ms,
    .cfg_child = lx_cfg_child,
    .cfg_count = lx_cfg_count,
    .cfg_elem = lx_cfg_elem,
    .cfg_value = lx_cfg_value,
    .cfg_check_keys = lx_cfg_check_keys,
    .cfg_where = lx_cfg_where,
    .data_dir = lx_host_data_dir,
    .req_method = lx_req_method,
    .req_path = lx_req_path,
    .req_route = lx_req_route,
    .req_param = lx_req_param,
    .req_query = lx_req_query,
    .req_header = lx_req_header,
    .req_body = lx_req_body,
    .req_id = lx_req_id,
    .req_peer = lx_req_peer,
    .req_worker = lx_req_worker,
    .reply = lx_req_reply,
    .reply_json = lx_req_reply_json,
    .reply_error = lx_req_reply_error,
    .set_header = lx_req_set_header,
    .reply_start = lx_req_reply_start,
    .reply_chunk = lx_req_reply_chunk,
    .reply_end = lx_req_reply_end,
    .ctx_set = lx_req_ctx_set,
    .ctx_get = lx_req_ctx_get,
    .req_set_user = lx_req_set_user,
    .req_alloc = lx_req_alloc,
    .req_on_cleanup = lx_req_on_cleanup,
    .req_resume = lx_req_resume,
    .req_on_abort = lx_req_on_abort,
    .req_is_gone = lx_req_is_gone,
    .http_fetch = lx_host_http_fetch,
    .http_cancel = lx_host_http_cancel,
    .http_header = lx_host_http_header,
    .offload = lx_host_offload,
    .timer_start = lx_host_timer_start,
    .timer_stop = lx_host_timer_stop,
    .svc_register = lx_runtime_svc_register,
    .svc_lookup = lx_runtime_svc_lookup,
    .worker_index = lx_host_worker_index,
    .worker_stopping = lx_host_worker_stopping,
    .health_check = lx_host_health_check,
    .metrics_render = lx_host_metrics_render,
    .alloc = lx_host_alloc,
    .free = lx_host_free,
    .req_is_websocket = lx_ws_req_is_websocket,
    .ws_accept = lx_ws_accept,
    .ws_reject = lx_ws_reject,
    .ws_send = lx_ws_send,
    .ws_queued = lx_ws_queued,
    .ws_close = lx_ws_close,
    .ws_resume = lx_ws_resume,
    .ws_id = lx_ws_id,
    .ws_worker = lx_ws_worker,
    .watch_start = lx_host_watch_start,
    .watch_set = lx_host_watch_set,
    .watch_stop = lx_host_watch_stop,
};

const lx_host *lx_host_get(void)
{
    return &lx_host_table;
}
