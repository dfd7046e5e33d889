/*
 * hello: the smallest lexiaid plugin. Build it against the installed SDK:
 *
 *     cc $(pkg-config --cflags lexiaid-plugin) hello.c -o hello.so \
 *        $(pkg-config --libs lexiaid-plugin)
 *
 * and route to it:
 *
 *     plugins = ( { name = "hello"; file = "/path/to/hello.so"; } );
 *     routes  = ( { method = "GET"; path = "/hello"; handler = "hello.greet"; } );
 */
#include <stddef.h>

#include <lexiaid/plugin.h>

static const lx_host *hello_host;

/* GET /hello: {"hello":"world"}. */
static lx_rc hello_greet(lx_req *req, void *state)
{
    (void)state;
    hello_host->reply_json(req, 200, "{\"hello\":\"world\"}");
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
