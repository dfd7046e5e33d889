/*
 * The asynchronous HTTP client: libcurl's multi-socket interface driven by
 * a worker's libevent loop (one CURLM per worker, connections and TLS
 * sessions reused). It lives in its own module, lx_http_client.so, linked
 * with libcurl, which the core dlopen()s only when a plugin needs outbound
 * HTTP: libcurl and its TLS stack cost about 6 MB of resident memory per
 * process, more than the whole core.
 */
#ifndef LX_CORE_HTTP_CLIENT_H
#define LX_CORE_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/plugin.h>

struct event_base;
typedef struct lx_httpc lx_httpc;

#define LX_HTTPC_MODULE_VERSION 1
#define LX_HTTPC_MODULE_SYMBOL "lx_httpc_module_get"

typedef struct lx_httpc_module {
    uint32_t version; /* LX_HTTPC_MODULE_VERSION */

    /* Once per process, before any create (calls curl_global_init). */
    int (*global_init)(char *err, size_t errlen);

    /* A client on `base`; NULL with a message in err. */
    lx_httpc *(*create)(struct event_base *base, char *err, size_t errlen);

    /* Contract of lx_host.http_fetch: LX_OK and `done` runs exactly once
     * on the loop (never inside fetch itself), unless cancelled; or a
     * negative code (LX_EINVAL for a bad request: no URL, a scheme other
     * than http/https, CR/LF in a header) and `done` never runs. */
    int (*fetch)(lx_httpc *c, const lx_http_request *rq, lx_http_done_fn done, void *arg,
                 lx_http_call **call_out);

    /* Contract of lx_host.http_cancel. */
    void (*cancel)(lx_http_call *call);

    /* Contract of lx_host.http_header. */
    const char *(*header)(const lx_http_response *res, const char *name);

    /* Calls in flight. */
    size_t (*in_flight)(const lx_httpc *c);

    /* Ends every call in flight with err LX_ECANCELED (their `done` runs),
     * then frees the client. */
    void (*destroy)(lx_httpc *c);
} lx_httpc_module;

typedef const lx_httpc_module *(*lx_httpc_module_get_fn)(void);

#endif
