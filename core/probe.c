#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>

#include "probe.h"

typedef struct lx_probe_result {
    int status;
    int is_done;
} lx_probe_result;

static void lx_probe_done(struct evhttp_request *req, void *arg)
{
    lx_probe_result *r = arg;
    r->is_done = 1;
    r->status = req ? evhttp_request_get_response_code(req) : 0;
}

int lx_probe(const char *url, long timeout_ms)
{
    struct evhttp_uri *uri = evhttp_uri_parse(url);
    struct event_base *base = NULL;
    struct evhttp_connection *evcon = NULL;
    lx_probe_result r = {0, 0};
    int code = 1;

    if (uri == NULL || evhttp_uri_get_host(uri) == NULL || evhttp_uri_get_scheme(uri) == NULL ||
        strcmp(evhttp_uri_get_scheme(uri), "http") != 0) {
        fprintf(stderr, "lexiaid --probe: '%s' is not an http:// URL\n", url);
        goto out;
    }
    const char *host = evhttp_uri_get_host(uri);
    int port = evhttp_uri_get_port(uri);
    const char *path = evhttp_uri_get_path(uri);
    const char *query = evhttp_uri_get_query(uri);
    char target[2048];
    snprintf(target, sizeof(target), "%s%s%s", (path && *path) ? path : "/", query ? "?" : "",
             query ? query : "");

    base = event_base_new();
    evcon = base ? evhttp_connection_base_new(base, NULL, host, port > 0 ? port : 80) : NULL;
    if (evcon == NULL) {
        fprintf(stderr, "lexiaid --probe: cannot set up a connection to %s\n", host);
        goto out;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(evcon, &tv);
    evhttp_connection_set_retries(evcon, 0);
    struct evhttp_request *req = evhttp_request_new(lx_probe_done, &r);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
    evhttp_add_header(evhttp_request_get_output_headers(req), "User-Agent", "lexiaid-probe");
    if (evhttp_make_request(evcon, req, EVHTTP_REQ_GET, target) != 0) {
        fprintf(stderr, "lexiaid --probe: cannot send the request\n");
        goto out;
    }
    event_base_dispatch(base);
    if (r.status >= 200 && r.status < 300) {
        code = 0;
    } else if (r.status == 0) {
        fprintf(stderr, "lexiaid --probe: no answer from %s\n", url);
    } else {
        fprintf(stderr, "lexiaid --probe: %s answered %d\n", url, r.status);
    }
out:
    if (evcon != NULL)
        evhttp_connection_free(evcon);
    if (base != NULL)
        event_base_free(base);
    if (uri != NULL)
        evhttp_uri_free(uri);
    return code;
}
