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
 *                 { method = "POST"; path = "/hello/form"; handler = "hello.form"; } );
 *
 * hello.form shows the SDK's helper library (liblexiaid_sdk, linked by the
 * pkg-config flags): <lexiaid/multipart.h> parses a multipart/form-data body.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/multipart.h>
#include <lexiaid/plugin.h>

static const lx_host *hello_host;

/* GET /hello: {"hello":"world"}. */
static lx_rc hello_greet(lx_req *req, void *state)
{
    (void)state;
    hello_host->reply_json(req, 200, "{\"hello\":\"world\"}");
    return LX_DONE;
}

/* POST /hello/form (multipart/form-data): {"fields": N, "first": "NAME"},
 * or 400 with the parser's message. */
static lx_rc hello_form(lx_req *req, void *state)
{
    const char *ctype = hello_host->req_header(req, "Content-Type");
    char *boundary = NULL, err[200], json[400];
    const char *body;
    size_t len = 0;
    lx_mp mp;

    (void)state;
    if (ctype == NULL || lx_mp_boundary(ctype, &boundary, err, sizeof(err)) != LX_OK) {
        hello_host->reply_error(req, 415, "UNSUPPORTED_MEDIA_TYPE", "send multipart/form-data");
        return LX_DONE;
    }
    body = hello_host->req_body(req, &len);
    if (lx_mp_parse(body != NULL ? body : "", len, boundary, &mp, err, sizeof(err)) != LX_OK) {
        free(boundary);
        hello_host->reply_error(req, 400, "INVALID_FORM", err);
        return LX_DONE;
    }
    free(boundary);
    /* Field names here are plain words in this example; a real plugin
     * builds its JSON with a JSON library. */
    snprintf(json, sizeof(json), "{\"fields\":%zu,\"first\":\"%.64s\"}", mp.n_parts,
             mp.n_parts > 0 && strpbrk(mp.parts[0].name, "\"\\") == NULL ? mp.parts[0].name : "");
    lx_mp_free(&mp);
    hello_host->reply_json(req, 200, json);
    return LX_DONE;
}

/* Runs once in the master before the workers fork: keep the host table. */
static int hello_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                      size_t errlen)
{
    static const char *const allowed[] = {NULL};

    hello_host = host;
    *state = NULL;
    return host->cfg_check_keys(cfg, allowed, err, errlen);
}

static const lx_handler hello_handlers[] = {
    {.name = "greet", .fn = hello_greet, .flags = LX_H_ENDPOINT},
    {.name = "form", .fn = hello_form, .flags = LX_H_ENDPOINT},
    {.name = NULL},
};

static const lx_plugin hello_plugin = {
    LX_PLUGIN_HEADER,
    .name = "hello",
    .version = "1.0.0",
    .description = "says hello",
    .handlers = hello_handlers,
    .init = hello_init,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &hello_plugin;
}
