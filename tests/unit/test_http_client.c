#include "config.h"

/*
 * The HTTP client module against a real HTTP server: libevent's evhttp on
 * 127.0.0.1, an ephemeral port, on the same event base as the client. The
 * module is dlopen()ed exactly as the core does, from LX_TEST_HTTPC_MODULE.
 *
 * Server routes: /ok (200 "hello", X-Test: yes, X-Pad: "  padded  "),
 * /slow (200 after 2 s), /big (2 MB of a known pattern), /echo (the request
 * body back, the method in X-Method), /status/503.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <lexiaid/plugin.h>

#include "http_client.h"

#ifndef LX_TEST_HTTPC_MODULE
#error "LX_TEST_HTTPC_MODULE must name the lx_http_client.so to test"
#endif

#define BIG_LEN ((size_t)2 << 20)
#define SLOW_MS 2000

static void *g_module;
static const lx_httpc_module *M;
static char *g_big;
/* Set around every fetch: a `done` that sees it ran inside fetch. */
static int g_in_fetch;
static int g_n_done_inside_fetch;

typedef struct slow_reply slow_reply;

typedef struct fx {
    struct event_base *base;
    struct evhttp *http;
    int port;
    char url[64]; /* "http://127.0.0.1:PORT" */
    slow_reply *slows;
    lx_httpc *c;
    char err[256];
} fx;

struct slow_reply {
    fx *f;
    struct evhttp_request *req;
    struct event *timer;
    slow_reply *next;
};

/* ------------------------------------------------------------------------ */
/* The server                                                               */

static void srv_ok(struct evhttp_request *req, void *arg)
{
    struct evbuffer *out = evbuffer_new();

    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Test", "yes");
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Pad", "  padded  ");
    evbuffer_add(out, "hello", 5);
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void slow_unlink_free(slow_reply *s)
{
    slow_reply **pp = &s->f->slows;

    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    event_free(s->timer);
    free(s);
}

static void slow_send(slow_reply *s)
{
    struct evbuffer *out = evbuffer_new();

    evbuffer_add(out, "slow", 4);
    evhttp_send_reply(s->req, 200, "OK", out);
    evbuffer_free(out);
    slow_unlink_free(s);
}

static void srv_slow_fire(evutil_socket_t fd, short what, void *arg)
{
    slow_send(arg);
}

static void srv_slow(struct evhttp_request *req, void *arg)
{
    fx *f = arg;
    slow_reply *s = calloc(1, sizeof(*s));
    struct timeval tv = {SLOW_MS / 1000, (SLOW_MS % 1000) * 1000};

    assert_non_null(s);
    s->f = f;
    s->req = req;
    s->timer = evtimer_new(f->base, srv_slow_fire, s);
    assert_non_null(s->timer);
    s->next = f->slows;
    f->slows = s;
    evtimer_add(s->timer, &tv);
}

static void srv_big(struct evhttp_request *req, void *arg)
{
    struct evbuffer *out = evbuffer_new();

    evbuffer_add(out, g_big, BIG_LEN);
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

static void srv_echo(struct evhttp_request *req, void *arg)
{
    struct evbuffer *out = evbuffer_new();

    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Method",
                      method_name(evhttp_request_get_command(req)));
    evbuffer_add_buffer(out, evhttp_request_get_input_buffer(req));
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void srv_503(struct evhttp_request *req, void *arg)
{
    evhttp_send_reply(req, 503, "Service Unavailable", NULL);
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                 */

static int group_setup(void **state)
{
    char err[256] = "";
    lx_httpc_module_get_fn get;

    /* evhttp writes with writev: a client that hung up must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    g_module = dlopen(LX_TEST_HTTPC_MODULE, RTLD_NOW | RTLD_LOCAL);
    if (g_module == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return -1;
    }
    *(void **)&get = dlsym(g_module, LX_HTTPC_MODULE_SYMBOL);
    if (get == NULL)
        return -1;
    M = get();
    if (M == NULL || M->version != LX_HTTPC_MODULE_VERSION)
        return -1;
    if (M->global_init(err, sizeof(err)) != LX_OK || M->global_init(err, sizeof(err)) != LX_OK) {
        fprintf(stderr, "global_init: %s\n", err);
        return -1;
    }
    g_big = malloc(BIG_LEN);
    if (g_big == NULL)
        return -1;
    for (size_t i = 0; i < BIG_LEN; i++)
        g_big[i] = (char)(i * 7 + i / 251);
    return 0;
}

static int group_teardown(void **state)
{
    void (*cleanup)(void);

    /* libcurl is a dependency of the module, so dlsym finds it there. The
     * module stays loaded: unloading libcurl and its TLS library would turn
     * their still-reachable globals into reported leaks. */
    *(void **)&cleanup = dlsym(g_module, "curl_global_cleanup");
    if (cleanup != NULL)
        cleanup();
    free(g_big);
    return 0;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    struct evhttp_bound_socket *bound;
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    if (f == NULL)
        return -1;
    f->base = event_base_new();
    f->http = f->base ? evhttp_new(f->base) : NULL;
    if (f->http == NULL)
        return -1;
    evhttp_set_allowed_methods(f->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                            EVHTTP_REQ_OPTIONS);
    evhttp_set_cb(f->http, "/ok", srv_ok, f);
    evhttp_set_cb(f->http, "/slow", srv_slow, f);
    evhttp_set_cb(f->http, "/big", srv_big, f);
    evhttp_set_cb(f->http, "/echo", srv_echo, f);
    evhttp_set_cb(f->http, "/status/503", srv_503, f);
    bound = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
    if (bound == NULL ||
        getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &len) != 0)
        return -1;
    f->port = ntohs(sin.sin_port);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);

    f->c = M->create(f->base, f->err, sizeof(f->err));
    if (f->c == NULL)
        return -1;
    g_n_done_inside_fetch = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    if (f->c != NULL)
        M->destroy(f->c);
    /* Answer what /slow still holds, so evhttp frees those requests. */
    while (f->slows != NULL)
        slow_send(f->slows);
    evhttp_free(f->http);
    event_base_free(f->base);
    free(f);
    assert_int_equal(g_n_done_inside_fetch, 0);
    return 0;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

/* Runs the loop until *n reaches want, or ms pass. True when reached. */
static int run_until(fx *f, const int *n, int want, long ms)
{
    int is_late = 0;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    struct event *deadline = evtimer_new(f->base, on_deadline, &is_late);

    assert_non_null(deadline);
    evtimer_add(deadline, &tv);
    while ((n == NULL || *n < want) && !is_late)
        event_base_loop(f->base, EVLOOP_ONCE);
    event_free(deadline);
    return n != NULL && *n >= want;
}

static void run_for(fx *f, long ms)
{
    run_until(f, NULL, 0, ms);
}

/* ------------------------------------------------------------------------ */
/* A call's outcome, copied out of `done`                                   */

typedef struct result {
    fx *f;
    int n_done;
    int status;
    int err;
    char errmsg[256];
    char *body;
    size_t body_len;
    const char *want_header; /* looked up inside done */
    char header[64];
    int has_header;
    char x_pad[64];
    char x_method[32];
    double total_ms;
    /* Streaming. */
    size_t n_streamed;
    int is_stream_intact;
    int cancel_after_first_chunk;
    lx_http_call *self;
    /* Re-entrancy from inside done. */
    lx_http_call *cancel_in_done;
    int destroy_in_done;
    struct result *fetch_in_done;
    int fetch_in_done_rc;
} result;

static void copy_header(const lx_http_response *res, const char *name, char *buf, size_t len)
{
    const char *v = M->header(res, name);

    buf[0] = '\0';
    if (v != NULL)
        snprintf(buf, len, "%s", v);
}

static int do_fetch(fx *f, const lx_http_request *rq, lx_http_done_fn done, void *arg,
                    lx_http_call **call_out);

static void on_done(const lx_http_response *res, void *arg)
{
    result *r = arg;

    if (g_in_fetch)
        g_n_done_inside_fetch++;
    r->n_done++;
    r->status = res->status;
    r->err = res->err;
    snprintf(r->errmsg, sizeof(r->errmsg), "%s", res->errmsg);
    free(r->body);
    r->body = malloc(res->body_len + 1);
    assert_non_null(r->body);
    memcpy(r->body, res->body, res->body_len + 1);
    r->body_len = res->body_len;
    r->total_ms = res->total_ms;
    if (r->want_header != NULL) {
        const char *v = M->header(res, r->want_header);
        r->has_header = v != NULL;
        snprintf(r->header, sizeof(r->header), "%s", v ? v : "");
    }
    copy_header(res, "x-pad", r->x_pad, sizeof(r->x_pad));
    copy_header(res, "X-METHOD", r->x_method, sizeof(r->x_method));

    if (r->cancel_in_done != NULL)
        M->cancel(r->cancel_in_done);
    if (r->fetch_in_done != NULL) {
        lx_http_request rq = {.struct_size = sizeof(rq)};
        char url[128];
        snprintf(url, sizeof(url), "%s/ok", r->f->url);
        rq.url = url;
        r->fetch_in_done_rc = do_fetch(r->f, &rq, on_done, r->fetch_in_done, NULL);
    }
    if (r->destroy_in_done) {
        M->destroy(r->f->c);
        r->f->c = NULL;
    }
}

static void on_stream(const char *data, size_t len, void *arg)
{
    result *r = arg;

    if (r->n_streamed + len > BIG_LEN || memcmp(g_big + r->n_streamed, data, len) != 0)
        r->is_stream_intact = 0;
    r->n_streamed += len;
    if (r->cancel_after_first_chunk && r->self != NULL) {
        M->cancel(r->self);
        r->self = NULL;
    }
}

static int do_fetch(fx *f, const lx_http_request *rq, lx_http_done_fn done, void *arg,
                    lx_http_call **call_out)
{
    int rc;

    g_in_fetch = 1;
    rc = M->fetch(f->c, rq, done, arg, call_out);
    g_in_fetch = 0;
    return rc;
}

/* Builds "http://127.0.0.1:PORT<path>" into buf. */
static const char *url_of(fx *f, const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", f->url, path);
    return buf;
}

static void result_free(result *r)
{
    free(r->body);
    r->body = NULL;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

static void test_httpc_get_ok_with_header_lookup(void **state)
{
    fx *f = *state;
    char url[128];
    result r = {.f = f, .want_header = "x-test"};
    lx_http_request rq = {.struct_size = sizeof(rq), .url = url_of(f, "/ok", url, sizeof(url))};
    lx_http_call *call = NULL;

    assert_int_equal(do_fetch(f, &rq, on_done, &r, &call), LX_OK);
    assert_non_null(call);
    assert_int_equal(M->in_flight(f->c), 1);
    assert_true(run_until(f, &r.n_done, 1, 5000));

    assert_int_equal(r.err, LX_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.errmsg, "");
    assert_int_equal(r.body_len, 5);
    assert_string_equal(r.body, "hello");
    assert_true(r.has_header);
    assert_string_equal(r.header, "yes");
    assert_string_equal(r.x_pad, "padded"); /* value trimmed */
    assert_string_equal(r.x_method, "");    /* absent */
    assert_true(r.total_ms > 0.0);
    assert_int_equal(M->in_flight(f->c), 0);
    run_for(f, 50);
    assert_int_equal(r.n_done, 1);
    result_free(&r);
}

static void test_httpc_head_has_headers_and_no_body(void **state)
{
    fx *f = *state;
    char url[128];
    result r = {.f = f, .want_header = "X-Test"};
    lx_http_request rq = {
        .struct_size = sizeof(rq), .method = "HEAD", .url = url_of(f, "/ok", url, sizeof(url))};

    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_OK);
    assert_true(run_until(f, &r.n_done, 1, 5000));
    assert_int_equal(r.err, LX_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(r.header, "yes");
    result_free(&r);
}

static void test_httpc_post_body_is_echoed(void **state)
{
    fx *f = *state;
    char url[128];
    static const char body[] = "{\"a\": 1, \"b\": \"two\"}";
    const char *const headers[] = {"Content-Type: application/json", NULL};
    result r = {.f = f};
    lx_http_request rq = {.struct_size = sizeof(rq),
                          .method = "POST",
                          .url = url_of(f, "/echo", url, sizeof(url)),
                          .headers = headers,
                          .body = body,
                          .body_len = strlen(body)};

    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_OK);
    assert_true(run_until(f, &r.n_done, 1, 5000));
    assert_int_equal(r.err, LX_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.x_method, "POST");
    assert_int_equal(r.body_len, strlen(body));
    assert_string_equal(r.body, body);
    result_free(&r);
}

static void test_httpc_put_patch_delete_reach_the_server(void **state)
{
    fx *f = *state;
    char url[128];
    const char *methods[] = {"PUT", "PATCH", "DELETE"};

    for (size_t i = 0; i < 3; i++) {
        result r = {.f = f};
        lx_http_request rq = {.struct_size = sizeof(rq),
                              .method = methods[i],
                              .url = url_of(f, "/echo", url, sizeof(url)),
                              .body = i < 2 ? "data" : NULL,
                              .body_len = i < 2 ? 4 : 0};
        assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_OK);
        assert_true(run_until(f, &r.n_done, 1, 5000));
        assert_int_equal(r.status, 200);
        assert_string_equal(r.x_method, methods[i]);
        assert_string_equal(r.body, i < 2 ? "data" : "");
        result_free(&r);
    }
}

/* Over 1 MiB curl sends "Expect: 100-continue" and evhttp answers 100 first:
 * the headers seen must be the final response's. */
static void test_httpc_large_post_after_100_continue(void **state)
{
    fx *f = *state;
    char url[128];
    size_t len = (size_t)3 << 19;
    result r = {.f = f, .want_header = "content-length"};
    lx_http_request rq = {.struct_size = sizeof(rq),
                          .method = "POST",
                          .url = url_of(f, "/echo", url, sizeof(url)),
                          .body = g_big,
                          .body_len = len};
    char want[32];

    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_OK);
    assert_true(run_until(f, &r.n_done, 1, 10000));
    assert_int_equal(r.err, LX_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, len);
    assert_memory_equal(r.body, g_big, len);
    snprintf(want, sizeof(want), "%zu", len);
    assert_string_equal(r.header, want);
    assert_string_equal(r.x_method, "POST");
    result_free(&r);
}

static void test_httpc_503_is_a_status_not_an_error(void **state)
{
    fx *f = *state;
    char url[128];
    result r = {.f = f};
    lx_http_request rq = {.struct_size = sizeof(rq),
                          .url = url_of(f, "/status/503", url, sizeof(url))};

    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_OK);
    assert_true(run_until(f, &r.n_done, 1, 5000));
    assert_int_equal(r.err, LX_OK);
    assert_int_equal(r.status, 503);
    result_free(&r);
}

static void test_httpc_timeout_is_etimedout(void **state)
{
    fx *f = *state;
    char url[128];
    result r = {.f = f};
    lx_http_request rq = {
        .struct_size = sizeof(rq), .url = url_of(f, "/slow", url, sizeof(url)), .timeout_ms = 200};

    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_OK);
    assert_true(run_until(f, &r.n_done, 1, 5000));
    assert_int_equal(r.err, LX_ETIMEDOUT);
    assert_int_equal(r.status, 0);
    assert_true(strlen(r.errmsg) > 0);
    assert_int_equal(r.body_len, 0);
    assert_true(r.total_ms >= 150.0);
    assert_true(r.total_ms < 1500.0);
    result_free(&r);
}

static void test_httpc_over_max_response_is_etoobig(void **state)
{
    fx *f = *state;
    char url[128];
    result r = {.f = f};
    lx_http_request rq = {.struct_size = sizeof(rq),
                          .url = url_of(f, "/big", url, sizeof(url)),
                          .max_response = (size_t)1 << 20};

    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_OK);
    assert_true(run_until(f, &r.n_done, 1, 5000));
    assert_int_equal(r.err, LX_ETOOBIG);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.body_len, 0);
    assert_true(strlen(r.errmsg) > 0);
    result_free(&r);
}

static void test_httpc_big_body_under_the_cap_arrives_whole(void **state)
{
    fx *f = *state;
    char url[128];
    result r = {.f = f};
    lx_http_request rq = {.struct_size = sizeof(rq), .url = url_of(f, "/big", url, sizeof(url))};

    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_OK);
    assert_true(run_until(f, &r.n_done, 1, 5000));
    assert_int_equal(r.err, LX_OK);
    assert_int_equal(r.body_len, BIG_LEN);
    assert_memory_equal(r.body, g_big, BIG_LEN);
    result_free(&r);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    assert_true(fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static void test_httpc_connection_refused_is_eio_without_secrets(void **state)
{
    fx *f = *state;
    char url[128];
    const char *const headers[] = {"Authorization: Bearer s3cr3t-t0ken", NULL};
    result r = {.f = f};
    lx_http_request rq = {.struct_size = sizeof(rq), .url = url, .headers = headers};

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", closed_port());
    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_OK);
    assert_true(run_until(f, &r.n_done, 1, 5000));
    assert_int_equal(r.err, LX_EIO);
    assert_int_equal(r.status, 0);
    assert_true(strlen(r.errmsg) > 0);
    assert_null(strstr(r.errmsg, "s3cr3t"));
    result_free(&r);
}

static void test_httpc_cancel_means_done_never_runs(void **state)
{
    fx *f = *state;
    char url1[128], url2[128];
    result r1 = {.f = f}, r2 = {.f = f};
    lx_http_request rq1 = {.struct_size = sizeof(rq1), .url = url_of(f, "/ok", url1, sizeof(url1))};
    lx_http_request rq2 = {.struct_size = sizeof(rq2),
                           .url = url_of(f, "/slow", url2, sizeof(url2))};
    lx_http_call *c1, *c2;

    /* One cancelled before it starts, one while the server holds it. */
    assert_int_equal(do_fetch(f, &rq1, on_done, &r1, &c1), LX_OK);
    assert_int_equal(do_fetch(f, &rq2, on_done, &r2, &c2), LX_OK);
    M->cancel(c1);
    assert_int_equal(M->in_flight(f->c), 1);
    run_for(f, 50);
    assert_non_null(f->slows);
    M->cancel(c2);
    assert_int_equal(M->in_flight(f->c), 0);
    run_for(f, 300);
    assert_int_equal(r1.n_done, 0);
    assert_int_equal(r2.n_done, 0);
}

static void test_httpc_cancel_from_inside_another_done(void **state)
{
    fx *f = *state;
    char url1[128], url2[128];
    result r_slow = {.f = f}, r_ok = {.f = f};
    lx_http_request rq_slow = {.struct_size = sizeof(rq_slow),
                               .url = url_of(f, "/slow", url1, sizeof(url1))};
    lx_http_request rq_ok = {.struct_size = sizeof(rq_ok),
                             .url = url_of(f, "/ok", url2, sizeof(url2))};
    lx_http_call *slow;

    assert_int_equal(do_fetch(f, &rq_slow, on_done, &r_slow, &slow), LX_OK);
    r_ok.cancel_in_done = slow;
    assert_int_equal(do_fetch(f, &rq_ok, on_done, &r_ok, NULL), LX_OK);
    assert_true(run_until(f, &r_ok.n_done, 1, 5000));
    assert_int_equal(M->in_flight(f->c), 0);
    run_for(f, 200);
    assert_int_equal(r_slow.n_done, 0);
    result_free(&r_ok);
}

static void test_httpc_cancel_from_inside_on_data(void **state)
{
    fx *f = *state;
    char url[128];
    result r = {.f = f, .cancel_after_first_chunk = 1, .is_stream_intact = 1};
    result after = {.f = f};
    lx_http_request rq = {.struct_size = sizeof(rq),
                          .url = url_of(f, "/big", url, sizeof(url)),
                          .on_data = on_stream};

    assert_int_equal(do_fetch(f, &rq, on_done, &r, &r.self), LX_OK);
    run_for(f, 500);
    assert_int_equal(r.n_done, 0);
    assert_true(r.n_streamed > 0);
    assert_true(r.n_streamed < BIG_LEN);
    assert_int_equal(M->in_flight(f->c), 0);

    /* The client goes on working. */
    rq.url = url_of(f, "/ok", url, sizeof(url));
    rq.on_data = NULL;
    assert_int_equal(do_fetch(f, &rq, on_done, &after, NULL), LX_OK);
    assert_true(run_until(f, &after.n_done, 1, 5000));
    assert_int_equal(after.status, 200);
    result_free(&after);
}

static void test_httpc_destroy_cancels_calls_in_flight(void **state)
{
    fx *f = *state;
    char url[128];
    result r = {.f = f};
    lx_http_request rq = {.struct_size = sizeof(rq), .url = url_of(f, "/slow", url, sizeof(url))};

    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_OK);
    run_for(f, 50);
    assert_int_equal(r.n_done, 0);
    M->destroy(f->c);
    f->c = NULL;
    assert_int_equal(r.n_done, 1);
    assert_int_equal(r.err, LX_ECANCELED);
    assert_int_equal(r.status, 0);
    assert_true(strlen(r.errmsg) > 0);
    result_free(&r);
}

static void test_httpc_destroy_from_inside_done_is_deferred(void **state)
{
    fx *f = *state;
    char url1[128], url2[128];
    result r_ok = {.f = f, .destroy_in_done = 1}, r_slow = {.f = f};
    lx_http_request rq_ok = {.struct_size = sizeof(rq_ok),
                             .url = url_of(f, "/ok", url1, sizeof(url1))};
    lx_http_request rq_slow = {.struct_size = sizeof(rq_slow),
                               .url = url_of(f, "/slow", url2, sizeof(url2))};

    assert_int_equal(do_fetch(f, &rq_slow, on_done, &r_slow, NULL), LX_OK);
    assert_int_equal(do_fetch(f, &rq_ok, on_done, &r_ok, NULL), LX_OK);
    assert_true(run_until(f, &r_ok.n_done, 1, 5000));
    assert_null(f->c);
    assert_int_equal(r_ok.status, 200);
    assert_int_equal(r_slow.n_done, 1);
    assert_int_equal(r_slow.err, LX_ECANCELED);
    result_free(&r_ok);
    result_free(&r_slow);
}

static void test_httpc_fetch_from_inside_done(void **state)
{
    fx *f = *state;
    char url[128];
    result second = {.f = f};
    result first = {.f = f, .fetch_in_done = &second};
    lx_http_request rq = {.struct_size = sizeof(rq), .url = url_of(f, "/ok", url, sizeof(url))};

    assert_int_equal(do_fetch(f, &rq, on_done, &first, NULL), LX_OK);
    assert_true(run_until(f, &second.n_done, 1, 5000));
    assert_int_equal(first.fetch_in_done_rc, LX_OK);
    assert_int_equal(first.status, 200);
    assert_int_equal(second.status, 200);
    assert_string_equal(second.body, "hello");
    result_free(&first);
    result_free(&second);
}

static void test_httpc_bad_urls_are_einval_and_done_never_runs(void **state)
{
    fx *f = *state;
    const char *bad[] = {
        "file:///etc/passwd", "ftp://127.0.0.1/x",  "gopher://127.0.0.1/", "/relative/path", "",
        "http://bad host/",   "dict://127.0.0.1:1/"};
    result r = {.f = f};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lx_http_request rq = {.struct_size = sizeof(rq), .url = bad[i]};
        lx_http_call *call = (lx_http_call *)&r;
        assert_int_equal(do_fetch(f, &rq, on_done, &r, &call), LX_EINVAL);
        assert_null(call);
    }
    {
        lx_http_request rq = {.struct_size = sizeof(rq), .url = NULL};
        assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_EINVAL);
    }
    {
        /* struct_size not set. */
        lx_http_request rq = {.url = "http://127.0.0.1/"};
        assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_EINVAL);
    }
    assert_int_equal(M->in_flight(f->c), 0);
    run_for(f, 100);
    assert_int_equal(r.n_done, 0);
}

static void test_httpc_crlf_in_header_or_method_is_einval(void **state)
{
    fx *f = *state;
    char url[128];
    const char *const split[] = {"X-A: b\r\nX-Evil: 1", NULL};
    const char *const lf[] = {"X-Ok: 1", "X-A: b\nX-Evil: 1", NULL};
    const char *const cr[] = {"X-A: b\r", NULL};
    result r = {.f = f};
    lx_http_request rq = {.struct_size = sizeof(rq), .url = url_of(f, "/ok", url, sizeof(url))};

    rq.headers = split;
    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_EINVAL);
    rq.headers = lf;
    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_EINVAL);
    rq.headers = cr;
    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_EINVAL);
    rq.headers = NULL;
    rq.method = "GET /x HTTP/1.1\r\nX:";
    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_EINVAL);
    run_for(f, 100);
    assert_int_equal(r.n_done, 0);
}

#define N_CONCURRENT 100

static void test_httpc_hundred_concurrent_calls_complete(void **state)
{
    fx *f = *state;
    char url[128];
    result *rs = calloc(N_CONCURRENT, sizeof(*rs));
    lx_http_request rq = {.struct_size = sizeof(rq), .url = url_of(f, "/ok", url, sizeof(url))};
    int n_total = 0;

    assert_non_null(rs);
    for (int i = 0; i < N_CONCURRENT; i++) {
        rs[i].f = f;
        assert_int_equal(do_fetch(f, &rq, on_done, &rs[i], NULL), LX_OK);
    }
    assert_int_equal(M->in_flight(f->c), N_CONCURRENT);
    for (int i = 0; i < N_CONCURRENT; i++) {
        assert_true(run_until(f, &rs[i].n_done, 1, 10000));
    }
    for (int i = 0; i < N_CONCURRENT; i++) {
        assert_int_equal(rs[i].n_done, 1);
        assert_int_equal(rs[i].err, LX_OK);
        assert_int_equal(rs[i].status, 200);
        assert_string_equal(rs[i].body, "hello");
        n_total += rs[i].n_done;
        result_free(&rs[i]);
    }
    assert_int_equal(n_total, N_CONCURRENT);
    assert_int_equal(M->in_flight(f->c), 0);
    free(rs);
}

static void test_httpc_on_data_streams_every_byte(void **state)
{
    fx *f = *state;
    char url[128];
    result r = {.f = f, .is_stream_intact = 1};
    lx_http_request rq = {.struct_size = sizeof(rq),
                          .url = url_of(f, "/big", url, sizeof(url)),
                          .on_data = on_stream};

    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_OK);
    assert_true(run_until(f, &r.n_done, 1, 5000));
    assert_int_equal(r.err, LX_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.n_streamed, BIG_LEN);
    assert_true(r.is_stream_intact);
    assert_int_equal(r.body_len, 0);
    result_free(&r);
}

static void test_httpc_older_request_struct_is_accepted(void **state)
{
    fx *f = *state;
    char url[128];
    result r = {.f = f};
    /* A caller built before on_data existed: the rest reads as zero. */
    lx_http_request rq = {.struct_size = offsetof(lx_http_request, on_data),
                          .url = url_of(f, "/ok", url, sizeof(url)),
                          .on_data = on_stream /* beyond struct_size: ignored */};

    assert_int_equal(do_fetch(f, &rq, on_done, &r, NULL), LX_OK);
    assert_true(run_until(f, &r.n_done, 1, 5000));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    result_free(&r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_httpc_get_ok_with_header_lookup),
        T(test_httpc_head_has_headers_and_no_body),
        T(test_httpc_post_body_is_echoed),
        T(test_httpc_put_patch_delete_reach_the_server),
        T(test_httpc_large_post_after_100_continue),
        T(test_httpc_503_is_a_status_not_an_error),
        T(test_httpc_timeout_is_etimedout),
        T(test_httpc_over_max_response_is_etoobig),
        T(test_httpc_big_body_under_the_cap_arrives_whole),
        T(test_httpc_connection_refused_is_eio_without_secrets),
        T(test_httpc_cancel_means_done_never_runs),
        T(test_httpc_cancel_from_inside_another_done),
        T(test_httpc_cancel_from_inside_on_data),
        T(test_httpc_destroy_cancels_calls_in_flight),
        T(test_httpc_destroy_from_inside_done_is_deferred),
        T(test_httpc_fetch_from_inside_done),
        T(test_httpc_bad_urls_are_einval_and_done_never_runs),
        T(test_httpc_crlf_in_header_or_method_is_einval),
        T(test_httpc_hundred_concurrent_calls_complete),
        T(test_httpc_on_data_streams_every_byte),
        T(test_httpc_older_request_struct_is_accepted),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
