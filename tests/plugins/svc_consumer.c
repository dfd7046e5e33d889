/* svc_consumer: requires "greeter.v1". The SDK promises that a required
 * service is registered before the requirer's init() runs, so init()
 * checks it is there (the tests list the consumer first in the config);
 * worker_start() looks it up for the handler `greet`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

typedef struct greeter_v1 {
    const char *(*greet)(void *state);
} greeter_v1;

typedef struct svc_consumer_state {
    const lx_host *host;
    const greeter_v1 *greeter;
    void *greeter_state;
} svc_consumer_state;

static int svc_consumer_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                             size_t errlen)
{
    (void)cfg;
    void *gst = NULL;

    if (host->svc_lookup("greeter.v1", &gst) == NULL) {
        snprintf(err, errlen, "greeter.v1 is not registered before svc_consumer's init");
        return LX_ENOENT;
    }
    /* Per generation, as every plugin's state (plugin.h). */
    svc_consumer_state *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    st->host = host;
    *state = st;
    return LX_OK;
}

static void svc_consumer_shutdown(void *state)
{
    free(state);
}

static int svc_consumer_worker_start(void *state, lx_worker *w, char *err, size_t errlen)
{
    svc_consumer_state *st = state;
    (void)w;

    st->greeter = st->host->svc_lookup("greeter.v1", &st->greeter_state);
    if (st->greeter == NULL) {
        snprintf(err, errlen, "greeter.v1 not found");
        return LX_ENOENT;
    }
    return LX_OK;
}

static lx_rc svc_consumer_greet(lx_req *req, void *state)
{
    svc_consumer_state *st = state;
    char json[256];

    const char *g = st->greeter->greet(st->greeter_state);
    /* The greeting is ours (plain ASCII): no escaping needed. */
    if (strchr(g, '"') != NULL || strchr(g, '\\') != NULL)
        return LX_FAIL;
    snprintf(json, sizeof(json), "{\"greeting\":\"%s\"}", g);
    st->host->reply_json(req, 200, json);
    return LX_DONE;
}

static const lx_handler svc_consumer_handlers[] = {
    {.name = "greet", .fn = svc_consumer_greet, .flags = LX_H_ENDPOINT},
    {.name = NULL},
};
static const char *const svc_consumer_requires[] = {"greeter.v1", NULL};

static const lx_plugin svc_consumer_plugin = {
    LX_PLUGIN_HEADER,
    .name = "svc_consumer",
    .version = "1.0.0",
    .handlers = svc_consumer_handlers,
    .requires = svc_consumer_requires,
    .init = svc_consumer_init,
    .worker_start = svc_consumer_worker_start,
    .shutdown = svc_consumer_shutdown,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &svc_consumer_plugin;
}
