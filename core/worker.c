#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "conn.h"
#include "host.h"
#include "log.h"
#include "request.h"
#include "worker.h"
#include "ws_session.h"

#ifndef LX_HTTPC_MODULE_PATH
#define LX_HTTPC_MODULE_PATH "/usr/local/lib/lexiaid/lx_http_client.so"
#endif

#define LX_FLUSH_MS 100
#define LX_DRAIN_CHECK_MS 20
#define LX_FD_RESERVE 256

uint64_t lx_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ------------------------------------------------------------------ */
/* The HTTP client module                                              */

static const lx_httpc_module *lx_httpc_mod;

static int lx_httpc_load(char *err, size_t errlen)
{
    if (lx_httpc_mod != NULL)
        return LX_OK;
    const char *path = getenv("LEXIAID_HTTP_CLIENT_MODULE");
    if (path == NULL || *path == '\0')
        path = LX_HTTPC_MODULE_PATH;
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        const char *why = dlerror();
        snprintf(err, errlen, "cannot load the HTTP client module %s: %s", path,
                 why ? why : "unknown error");
        return LX_ENOENT;
    }
    void *sym = dlsym(dl, LX_HTTPC_MODULE_SYMBOL);
    lx_httpc_module_get_fn get;
    if (sym == NULL) {
        snprintf(err, errlen, "%s: no %s symbol", path, LX_HTTPC_MODULE_SYMBOL);
        return LX_EINVAL;
    }
    memcpy(&get, &sym, sizeof(get));
    const lx_httpc_module *mod = get();
    if (mod == NULL || mod->version != LX_HTTPC_MODULE_VERSION) {
        snprintf(err, errlen, "%s: HTTP client module version mismatch", path);
        return LX_EINVAL;
    }
    if (mod->global_init(err, errlen) != LX_OK)
        return LX_ERROR;
    lx_httpc_mod = mod;
    return LX_OK;
}

const lx_httpc_module *lx_httpc_module_loaded(void)
{
    return lx_httpc_mod;
}

int lx_httpc_preload(char *err, size_t errlen)
{
    return lx_httpc_load(err, errlen);
}

int lx_worker_http_client(lx_worker *w, const lx_httpc_module **mod, char *err, size_t errlen)
{
    int rc = lx_httpc_load(err, errlen);
    if (rc != LX_OK)
        return rc;
    if (w->httpc == NULL) {
        w->httpc = lx_httpc_mod->create(w->base, err, errlen);
        if (w->httpc == NULL)
            return LX_ERROR;
    }
    *mod = lx_httpc_mod;
    return LX_OK;
}

/* ------------------------------------------------------------------ */
/* Stopping                                                            */

static void lx_on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (lx_log_pending() > 0)
        lx_log_flush();
}

static void lx_on_drain_check(evutil_socket_t fd, short what, void *arg)
{
    lx_worker *w = arg;
    (void)fd;
    (void)what;
    if ((w->n_active == 0 && w->n_writing == 0 && w->n_ws == 0) ||
        lx_now_us() >= w->stop_deadline_us) {
        if (w->n_active > 0 || w->n_writing > 0 || w->n_ws > 0)
            lx_log(LX_LOG_WARN, "core", NULL,
                   "worker %d: grace period over with %zu requests and %zu WebSocket sessions "
                   "in flight; closing them",
                   w->index, w->n_active, w->n_ws);
        event_base_loopbreak(w->base);
    }
}

static void lx_worker_begin_stop(lx_worker *w, int is_fast)
{
    if (w->is_stopping && !is_fast)
        return;
    w->is_stopping = 1;
    if (w->bound != NULL) {
        evhttp_del_accept_socket(w->http, w->bound);
        w->bound = NULL;
    }
    if (is_fast) {
        event_base_loopbreak(w->base);
        return;
    }
    lx_ws_worker_stopping(w);
    w->stop_deadline_us =
        lx_now_us() + (uint64_t)w->rt->conf->server.shutdown_grace_ms * 1000u;
    if (w->ev_drain == NULL) {
        w->ev_drain = event_new(w->base, -1, EV_PERSIST, lx_on_drain_check, w);
        struct timeval tv = {0, LX_DRAIN_CHECK_MS * 1000};
        if (w->ev_drain != NULL)
            event_add(w->ev_drain, &tv);
    }
}

/* The master that forked this worker (its parent at start). */
static pid_t lx_worker_master;

static void lx_on_signal(evutil_socket_t sig, short what, void *arg)
{
    lx_worker *w = arg;

    (void)what;
    /* The master's death reaches us as SIGTERM (PR_SET_PDEATHSIG, master.c);
     * say so, since nobody will restart this worker. */
    if (sig == SIGTERM && !w->is_stopping && getppid() != lx_worker_master)
        lx_log(LX_LOG_WARN, "core", NULL,
               "worker %d: the master (pid %d) is gone; stopping after the requests in flight",
               w->index, (int)lx_worker_master);
    lx_worker_begin_stop(w, sig == SIGQUIT);
}

void lx_worker_accept_update(lx_worker *w)
{
    if (w->bound == NULL)
        return;
    struct evconnlistener *lev = evhttp_bound_socket_get_listener(w->bound);
    int max = w->rt->conf->server.max_connections;
    int is_full = w->n_conns >= (size_t)max;
    if (is_full && !w->is_full) {
        /* once a minute at most: under a flood this flips all the time */
        uint64_t now = lx_now_us();
        if (now - w->full_logged_us >= 60u * 1000000u || w->full_logged_us == 0) {
            w->full_logged_us = now;
            lx_log(LX_LOG_WARN, "core", NULL,
                   "worker %d: %d connections (server.max_connections): not accepting more "
                   "until one closes",
                   w->index, max);
        }
    }
    w->is_full = is_full;
    if (w->is_stopping || w->is_accept_paused || is_full)
        evconnlistener_disable(lev);
    else
        evconnlistener_enable(lev);
}

/* accept() failed: out of descriptors or memory. Pause accepting for a
 * moment instead of spinning. */
static void lx_on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    lx_worker *w = arg;
    (void)fd;
    (void)what;
    w->is_accept_paused = 0;
    lx_worker_accept_update(w);
}

static void lx_on_accept_error(struct evconnlistener *lev, void *arg)
{
    lx_worker *w = arg;
    int e = EVUTIL_SOCKET_ERROR();
    (void)lev;
    if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        w->is_accept_paused = 1;
        lx_worker_accept_update(w);
        struct timeval tv = {0, 100 * 1000};
        if (w->ev_accept_retry != NULL)
            evtimer_add(w->ev_accept_retry, &tv);
        lx_log(LX_LOG_WARN, "core", NULL,
               "worker %d: cannot accept (%s): out of descriptors; pausing 100 ms", w->index,
               strerror(e));
    }
}

/* ------------------------------------------------------------------ */
/* Running                                                             */

static void lx_worker_raise_fd_limit(int max_connections)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)max_connections + LX_FD_RESERVE;
    if (want > rl.rlim_max)
        want = rl.rlim_max;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int lx_worker_run(lx_runtime *rt, int index, int listen_fd)
{
    lx_worker w_, *w = &w_;
    const lx_server_conf *sc = &rt->conf->server;
    int code = 0;
    size_t n_started = 0;

    memset(w, 0, sizeof(*w));
    w->rt = rt;
    w->index = index;
    lx_worker_master = getppid();
    lx_current_runtime = rt;
    lx_log_set_pid(getpid());
    lx_log_setup(sc->log_level, sc->log_format, 1);
    if (getrandom(&w->rid_prefix, sizeof(w->rid_prefix), 0) != sizeof(w->rid_prefix))
        w->rid_prefix = (uint32_t)getpid() * 2654435761u;

    lx_worker_raise_fd_limit(sc->max_connections);
    lx_metrics_worker_start(rt->metrics, index);

    /* One thread per loop: no locks. The epoll changelist folds the read
     * and write toggles evhttp makes on every request into one epoll_ctl
     * per loop pass (4 syscalls per keep-alive request become 2). */
    struct event_config *ecfg = event_config_new();
    if (ecfg != NULL) {
        event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK);
        event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
        w->base = event_base_new_with_config(ecfg);
        event_config_free(ecfg);
    }
    if (w->base == NULL)
        w->base = event_base_new();
    w->http = w->base ? evhttp_new(w->base) : NULL;
    if (w->http == NULL) {
        lx_log(LX_LOG_ERROR, "core", NULL, "worker %d: cannot create the event loop", index);
        return 3;
    }
    evhttp_set_gencb(w->http, lx_req_on_request, w);
    /* The core checks every head before evhttp reads it and reads bodies
     * itself (core/conn.c): evhttp's own limits are only a safety net, and
     * it never reads a body. */
    evhttp_set_bevcb(w->http, lx_conn_bevcb, w);
    evhttp_set_max_headers_size(w->http, (ev_ssize_t)sc->max_header);
    evhttp_set_max_body_size(w->http, 0);
    evhttp_set_timeout_tv(w->http,
                          &(struct timeval){(time_t)(sc->idle_timeout_ms / 1000),
                                            (suseconds_t)(sc->idle_timeout_ms % 1000) * 1000});
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(w->http, NULL);

    struct evconnlistener *lev =
        evconnlistener_new(w->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE, 0, listen_fd);
    if (lev == NULL) {
        lx_log(LX_LOG_ERROR, "core", NULL, "worker %d: cannot listen on the inherited socket",
               index);
        return 3;
    }
    w->ev_conns = event_new(w->base, -1, 0, lx_conn_on_pending, w);
    w->ev_accept_retry = evtimer_new(w->base, lx_on_accept_retry, w);
    if (w->ev_conns == NULL || w->ev_accept_retry == NULL) {
        lx_log(LX_LOG_ERROR, "core", NULL, "worker %d: out of memory", index);
        return 3;
    }
    w->bound = evhttp_bind_listener(w->http, lev);
    evconnlistener_set_error_cb(lev, lx_on_accept_error);

    char err[512] = "";
    w->offload = lx_offload_new(w->base, sc->offload_threads, err, sizeof(err));
    if (w->offload == NULL) {
        lx_log(LX_LOG_ERROR, "core", NULL, "worker %d: offload pool: %s", index, err);
        return 3;
    }

    w->ev_term = evsignal_new(w->base, SIGTERM, lx_on_signal, w);
    w->ev_int = evsignal_new(w->base, SIGINT, lx_on_signal, w);
    w->ev_quit = evsignal_new(w->base, SIGQUIT, lx_on_signal, w);
    event_add(w->ev_term, NULL);
    event_add(w->ev_int, NULL);
    event_add(w->ev_quit, NULL);
    w->ev_flush = event_new(w->base, -1, EV_PERSIST, lx_on_flush, w);
    event_add(w->ev_flush, &(struct timeval){0, LX_FLUSH_MS * 1000});

    /* The signals the master blocked are ours to take now. */
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    lx_plugins *ps = rt->plugins;
    for (; n_started < ps->n; n_started++) {
        lx_loaded *it = &ps->items[ps->order[n_started]];
        if (it->desc->worker_start == NULL)
            continue;
        err[0] = '\0';
        if (it->desc->worker_start(it->state, w, err, sizeof(err)) != LX_OK) {
            lx_log(LX_LOG_ERROR, it->desc->name, NULL, "worker %d: worker_start failed: %s",
                   index, err[0] ? err : "(no message)");
            code = 3;
            goto stop;
        }
    }
    lx_log(LX_LOG_DEBUG, "core", NULL, "worker %d ready", index);

    event_base_dispatch(w->base);

stop:
    if (w->bound != NULL) {
        evhttp_del_accept_socket(w->http, w->bound);
        w->bound = NULL;
    }
    lx_ws_worker_exit(w);
    while (n_started-- > 0) {
        lx_loaded *it = &ps->items[ps->order[n_started]];
        if (it->desc->worker_stop != NULL)
            it->desc->worker_stop(it->state, w);
    }
    lx_host_worker_cleanup(w);
    if (w->httpc != NULL)
        lx_httpc_mod->destroy(w->httpc);
    lx_offload_free(w->offload);
    lx_ws_free_all(w);
    lx_req_free_all(w);
    evhttp_free(w->http);
    lx_conn_free_all(w);
    lx_req_free_spares(w);
    event_free(w->ev_term);
    event_free(w->ev_int);
    event_free(w->ev_quit);
    event_free(w->ev_flush);
    if (w->ev_drain != NULL)
        event_free(w->ev_drain);
    event_free(w->ev_accept_retry);
    event_free(w->ev_conns);
    event_base_free(w->base);
    lx_log_flush();
    return code;
}
