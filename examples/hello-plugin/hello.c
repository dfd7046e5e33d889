/*
 * hello: the smallest lexiaid plugin. Build it against the installed SDK:
 *
 *     cc $(pkg-config --cflags lexiaid-plugin) hello.c -o hello.so \
 *        $(pkg-config --libs lexiaid-plugin)
 *
 * and route to it:
 *
 *     plugins = ( { name = "hello"; file = "/path/to/hello.so"; } );
 *     routes  = ( { method = "GET"; path = "/hello"; handler = "hello.greet"; },
 *                 { method = "POST"; path = "/hello/form"; handler = "hello.form"; },
 *                 { path = "/hello/ws"; websocket = "hello.ws"; } );
 *
 * hello.form shows the SDK's helper library (liblexiaid_sdk, linked by the
 * pkg-config flags): <lexiaid/multipart.h> parses a multipart/form-data body.
 * hello.ws is a WebSocket route: each message is answered with a JSON text
 * message counting what the session has seen.
 *
 * State: everything the handlers need is in the hello struct that init()
 * allocates and shutdown() frees, handed back as `state`. Never keep it in
 * a static: lexiaid never dlcloses a plugin, so a static is shared by every
 * generation of the process; after a SIGHUP the new generation's init runs
 * while the old one still serves, and the old one's shutdown runs later.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/multipart.h>
#include <lexiaid/plugin.h>

/* This generation's state (see the file comment). */
typedef struct hello {
    const lx_host *host;
} hello;

/* GET /hello: {"hello":"world"}. */
static lx_rc hello_greet(lx_req *req, void *state)
{
    hello *h = state;

    h->host->reply_json(req, 200, "{\"hello\":\"world\"}");
    return LX_DONE;
}

/* POST /hello/form (multipart/form-data): {"fields": N, "first": "NAME"},
 * or 400 with the parser's message. */
static lx_rc hello_form(lx_req *req, void *state)
{
    hello *h = state;
    const lx_host *host = h->host;
    const char *ctype = host->req_header(req, "Content-Type");
    char *boundary = NULL, err[200], json[400];
    const char *body;
    size_t len = 0;
    lx_mp mp;

    if (ctype == NULL || lx_mp_boundary(ctype, &boundary, err, sizeof(err)) != LX_OK) {
        host->reply_error(req, 415, "UNSUPPORTED_MEDIA_TYPE", "send multipart/form-data");
        return LX_DONE;
    }
    body = host->req_body(req, &len);
    if (lx_mp_parse(body != NULL ? body : "", len, boundary, &mp, err, sizeof(err)) != LX_OK) {
        free(boundary);
        host->reply_error(req, 400, "INVALID_FORM", err);
        return LX_DONE;
    }
    free(boundary);
    /* Field names here are plain words in this example; a real plugin
     * builds its JSON with a JSON library. */
    snprintf(json, sizeof(json), "{\"fields\":%zu,\"first\":\"%.64s\"}", mp.n_parts,
             mp.n_parts > 0 && strpbrk(mp.parts[0].name, "\"\\") == NULL ? mp.parts[0].name : "");
    lx_mp_free(&mp);
    host->reply_json(req, 200, json);
    return LX_DONE;
}

/* One WebSocket session of /hello/ws: the per-session pointer the core
 * hands to every callback. */
typedef struct hello_session {
    const hello *h;
    unsigned long n_messages;
    size_t n_bytes;
} hello_session;

/* A whole message (text or binary): answered with {"messages":N,"bytes":B}.
 * data is borrowed for the call. */
static lx_rc hello_ws_message(lx_ws *ws, int type, const void *data, size_t len, void *arg)
{
    hello_session *s = arg;
    char json[96];

    (void)type;
    (void)data;
    s->n_messages++;
    s->n_bytes += len;
    snprintf(json, sizeof(json), "{\"messages\":%lu,\"bytes\":%zu}", s->n_messages, s->n_bytes);
    s->h->host->ws_send(ws, LX_WS_TEXT, json, strlen(json)); /* copied by the core */
    return LX_DONE;
}

/* Exactly once, last: the session is over, free what is ours. */
static void hello_ws_close(lx_ws *ws, int code, const char *reason, void *arg)
{
    (void)ws;
    (void)code;
    (void)reason;
    free(arg);
}

static const lx_ws_handler hello_ws_handler = {
    .struct_size = sizeof(lx_ws_handler),
    .on_message = hello_ws_message,
    .on_close = hello_ws_close,
};

/* GET /hello/ws: the session's open. The request (headers, query, what
 * middleware set) is readable here; ws_accept answers 101 and ends it. */
static lx_rc hello_ws(lx_req *req, void *state)
{
    hello_session *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return LX_FAIL;
    s->h = state;
    int rc = s->h->host->ws_accept(req, &hello_ws_handler, s, NULL);
    if (rc != LX_OK) {
        free(s);
        return rc == LX_EINVAL ? LX_FAIL : LX_DONE; /* otherwise the request has ended */
    }
    return LX_DONE;
}

/* Runs once per generation in the master, before its workers fork: the
 * state, with the host table in it. */
static int hello_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                      size_t errlen)
{
    static const char *const allowed[] = {NULL};
    hello *h;
    int rc = host->cfg_check_keys(cfg, allowed, err, errlen);

    if (rc != LX_OK)
        return rc;
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    h->host = host;
    *state = h;
    return LX_OK;
}

/* Runs once per generation in the master, when its last worker has gone. */
static void hello_shutdown(void *state)
{
    free(state);
}

static const lx_handler hello_handlers[] = {
    {.name = "greet", .fn = hello_greet, .flags = LX_H_ENDPOINT},
    {.name = "form", .fn = hello_form, .flags = LX_H_ENDPOINT},
    {.name = "ws", .fn = hello_ws, .flags = LX_H_WEBSOCKET},
    {.name = NULL},
};

static const lx_plugin hello_plugin = {
    LX_PLUGIN_HEADER,
    .name = "hello",
    .version = "1.0.0",
    .description = "says hello",
    .handlers = hello_handlers,
    .init = hello_init,
    .shutdown = hello_shutdown,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &hello_plugin;
}
