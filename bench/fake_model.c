/*
 * fake_model: an OpenAI-compatible provider answering at once, for
 * bench/storage.sh (the "0 s model" of its chat figures).
 *
 * One process, one libevent evhttp loop on 127.0.0.1, a free port written
 * to PORTFILE (atomically, as bench/fake_llm.py does). It answers
 *
 *   POST .../chat/completions  200, the chat completion of fake_llm.py
 *                              (same ANSWER text, finish_reason "stop",
 *                              same usage), the request's "model" echoed
 *                              when it is a plain string, else "fake"
 *   GET /health                200 {"status":"ok"}
 *   GET /stats                 200 {"requests":N,"answered":N}
 *   anything else              404 {"error":{"message":"no such route"}}
 *
 * A completion request whose body is empty answers 400. The body is not
 * otherwise parsed: lexiaid is the only client, and the point is to cost
 * the bench as little CPU as possible. bench/fake_llm.py stays for
 * bench/tutoring.sh, which needs slow answers and thousands of held calls.
 *
 * Usage: fake_model PORTFILE
 * SIGTERM or SIGINT ends the loop; it prints "fake_model: answered N" on
 * stderr and exits 0.
 *
 * Build: gcc -std=c11 -O2 -o fake_model fake_model.c $(pkg-config --cflags --libs libevent)
 */
#define _GNU_SOURCE /* memmem */

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#define ANSWER                                                                                     \
    "Plants make their own food from sunlight. This is called photosynthesis. "                    \
    "The leaves take in light, water and air."
#define MODEL_MAX 128

static unsigned long n_requests, n_answered;

static void reply(struct evhttp_request *req, int code, const char *reason, const char *body,
                  size_t len)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    evhttp_send_reply(req, code, reason, NULL);
}

/* The value of the first "model": "..." in the body (no escapes, at most
 * MODEL_MAX - 1 bytes) into out; "fake" when there is none. */
static void model_of(struct evbuffer *in, char *out)
{
    size_t len = evbuffer_get_length(in);
    const char *b = (const char *)evbuffer_pullup(in, -1);
    const char *p, *end;

    strcpy(out, "fake");
    if (b == NULL)
        return;
    p = memmem(b, len, "\"model\"", 7);
    end = b + len;
    if (p == NULL)
        return;
    p += 7;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ':'))
        p++;
    if (p >= end || *p != '"')
        return;
    p++;
    for (size_t i = 0; p + i < end && i < MODEL_MAX - 1; i++) {
        char c = p[i];
        if (c == '"') {
            if (i > 0) {
                memcpy(out, p, i);
                out[i] = '\0';
            }
            return;
        }
        if (c == '\\' || (unsigned char)c < 0x20)
            return;
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    char path[512], model[MODEL_MAX], body[1024];
    size_t n = strcspn(uri, "?");
    int len;

    (void)arg;
    if (n >= sizeof path)
        n = sizeof path - 1;
    memcpy(path, uri, n);
    path[n] = '\0';
    if (cmd == EVHTTP_REQ_POST && n >= 17 && strcmp(path + n - 17, "/chat/completions") == 0) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        n_requests++;
        if (evbuffer_get_length(in) == 0) {
            static const char bad[] = "{\"error\":{\"message\":\"body is not JSON\"}}";
            reply(req, 400, "Bad Request", bad, sizeof bad - 1);
            return;
        }
        model_of(in, model);
        len = snprintf(body, sizeof body,
                       "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\","
                       "\"created\":%lld,\"model\":\"%s\",\"choices\":[{\"index\":0,"
                       "\"finish_reason\":\"stop\",\"message\":{\"role\":\"assistant\","
                       "\"content\":\"%s\"}}],\"usage\":{\"prompt_tokens\":120,"
                       "\"completion_tokens\":24,\"total_tokens\":144}}",
                       (long long)time(NULL), model, ANSWER);
        n_answered++;
        reply(req, 200, "OK", body, (size_t)len);
    } else if (cmd == EVHTTP_REQ_GET && strcmp(path, "/health") == 0) {
        static const char ok[] = "{\"status\":\"ok\"}";
        reply(req, 200, "OK", ok, sizeof ok - 1);
    } else if (cmd == EVHTTP_REQ_GET && strcmp(path, "/stats") == 0) {
        len = snprintf(body, sizeof body, "{\"requests\":%lu,\"answered\":%lu}", n_requests,
                       n_answered);
        reply(req, 200, "OK", body, (size_t)len);
    } else {
        static const char nf[] = "{\"error\":{\"message\":\"no such route\"}}";
        reply(req, 404, "Not Found", nf, sizeof nf - 1);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

/* PORT into PATH through PATH.tmp and rename(): a reader never sees half. */
static int write_port(const char *path, int port)
{
    char tmp[4096];
    FILE *f;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    if (fprintf(f, "%d\n", port) < 0) {
        fclose(f);
        return -1;
    }
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

int main(int argc, char **argv)
{
    struct event_base *base = NULL;
    struct evhttp *http = NULL;
    struct evhttp_bound_socket *bound;
    struct event *ev_term = NULL, *ev_int = NULL;
    struct sockaddr_in sin;
    socklen_t slen = sizeof sin;
    int rc = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORTFILE\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    http = base != NULL ? evhttp_new(base) : NULL;
    if (http == NULL) {
        fprintf(stderr, "fake_model: cannot make the event loop\n");
        goto out;
    }
    ev_term = evsignal_new(base, SIGTERM, on_signal, base);
    ev_int = evsignal_new(base, SIGINT, on_signal, base);
    if (ev_term == NULL || ev_int == NULL || evsignal_add(ev_term, NULL) != 0 ||
        evsignal_add(ev_int, NULL) != 0) {
        fprintf(stderr, "fake_model: cannot watch signals\n");
        goto out;
    }
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_max_body_size(http, 8 << 20);
    evhttp_set_gencb(http, on_request, NULL);
    bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    if (bound == NULL ||
        getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &slen) != 0) {
        fprintf(stderr, "fake_model: cannot bind 127.0.0.1: %s\n", strerror(errno));
        goto out;
    }
    if (write_port(argv[1], ntohs(sin.sin_port)) != 0) {
        fprintf(stderr, "fake_model: cannot write %s: %s\n", argv[1], strerror(errno));
        goto out;
    }
    if (event_base_dispatch(base) < 0) {
        fprintf(stderr, "fake_model: event_base_dispatch failed\n");
        goto out;
    }
    fprintf(stderr, "fake_model: answered %lu\n", n_answered);
    rc = 0;

out:
    if (http != NULL)
        evhttp_free(http);
    if (ev_term != NULL)
        event_free(ev_term);
    if (ev_int != NULL)
        event_free(ev_int);
    if (base != NULL)
        event_base_free(base);
    return rc;
}
